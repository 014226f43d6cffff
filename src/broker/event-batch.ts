// How a batch of events is stored by the brokers: consecutive events that differ only in their task id
// (a bulk enqueue, a batch of leases or acks) are kept once with the list of ids.
import type { CeleriacEvent } from '../events.js';

type Group = [common: Record<string, unknown>, taskIds: string[] | null];

export function encodeBatch(events: CeleriacEvent[]): string {
  const groups: Group[] = [];
  let sample: Record<string, unknown> | undefined;
  let ids: string[] | undefined;
  for (const event of events as unknown as Array<Record<string, unknown>>) {
    if (sample && ids && sameButTaskId(sample, event)) {
      ids.push(event.taskId as string);
      continue;
    }
    if (typeof event.taskId === 'string' && allPrimitive(event)) {
      const { taskId, ...common } = event;
      sample = event;
      ids = [taskId];
      groups.push([common, ids]);
    } else {
      sample = ids = undefined;
      groups.push([event, null]);
    }
  }
  return JSON.stringify(groups);
}

export function decodeBatch(text: string, taskIdOf?: (stored: string) => string): CeleriacEvent[] {
  const events: CeleriacEvent[] = [];
  for (const [common, ids] of JSON.parse(text) as Group[]) {
    if (ids === null) events.push(common as unknown as CeleriacEvent);
    else {
      for (const id of ids) {
        const taskId = taskIdOf ? taskIdOf(id) : id;
        events.push({ ...common, taskId } as unknown as CeleriacEvent);
      }
    }
  }
  return events;
}

function sameButTaskId(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  let keys = 0;
  for (const key in a) {
    keys++;
    if (key !== 'taskId' && a[key] !== b[key]) return false;
  }
  for (const _key in b) keys--;
  return keys === 0;
}

function allPrimitive(event: Record<string, unknown>): boolean {
  for (const key in event) {
    const value = event[key];
    if (value !== null && typeof value === 'object') return false;
  }
  return true;
}
