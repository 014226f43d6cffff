// Waiting on tasks and reporting how they ended, shared by `result` and `enqueue --wait`.
// One deadline covers the whole wait; without a wait the deadline is now, so only finished tasks count.
import type { Celeriac, TaskInfo } from '../index.js';
import { ExitCode, worstExitCode } from './exit-codes.js';
import { compactJson, note, printJsonLines, printLine, printTable } from './output.js';
import { ProgressBar } from './progress-bar.js';

/** How one task stands when the wait ends. */
export interface Outcome {
  id: string;
  /** Undefined when the broker does not know the id. */
  info?: TaskInfo;
  /** True when the task had not finished when the wait ended. */
  pending: boolean;
}

/** Waits for every id until `timeoutMs` (undefined: forever; 0: no wait), with a bar on a terminal. */
export async function waitForTasks(app: Celeriac, ids: string[], timeoutMs: number | undefined): Promise<Outcome[]> {
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  const bar = new ProgressBar(ids.length);
  const interrupt = () => {
    bar.clear();
    process.exit(130);
  };
  if (bar.enabled) process.once('SIGINT', interrupt);
  bar.draw();
  try {
    return await Promise.all(
      ids.map(async (id) => {
        const outcome = await waitOne(app, id, deadline);
        bar.tick(exitCodeOf(outcome) === ExitCode.Ok);
        return outcome;
      }),
    );
  } finally {
    bar.clear();
    process.off('SIGINT', interrupt);
  }
}

async function waitOne(app: Celeriac, id: string, deadline: number | undefined): Promise<Outcome> {
  const remaining = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
  try {
    return { id, info: await app.waitForTask(id, remaining), pending: false };
  } catch (error) {
    const info = await app.getTask(id);
    if (!info) return { id, pending: false };
    if ((error as Error).name === 'TimeoutError') return { id, info, pending: true };
    throw error;
  }
}

export function exitCodeOf(outcome: Outcome): number {
  if (!outcome.info) return ExitCode.NotFound;
  if (outcome.pending) return ExitCode.Timeout;
  return outcome.info.state === 'completed' ? ExitCode.Ok : ExitCode.TaskFailed;
}

/** The JSON object printed for one outcome. */
export function outcomeRecord(outcome: Outcome): Record<string, unknown> {
  const { id, info } = outcome;
  if (!info) return { id, state: 'not_found' };
  const record: Record<string, unknown> = { id, name: info.name, state: info.state };
  if (outcome.pending) record.timedOut = true;
  if (info.state === 'completed') record.result = info.result ?? null;
  if (info.error) record.error = { type: info.error.type, message: info.error.message };
  return record;
}

/** Prints outcomes and returns the exit code: the worst of 4 (not found), 5 (timeout), 1 (failed), 0. */
export function reportOutcomes(outcomes: Outcome[], options: { json?: boolean; waited: boolean }): number {
  if (options.json) printJsonLines(outcomes.map(outcomeRecord));
  else if (outcomes.length === 1) reportOne(outcomes[0]!, options.waited);
  else reportMany(outcomes);
  return worstExitCode(outcomes.map(exitCodeOf));
}

/** One task: its result on stdout, or one line on stderr saying why there is none. */
function reportOne(outcome: Outcome, waited: boolean): void {
  const { id, info } = outcome;
  if (!info) return note(`task ${id} not found`);
  if (outcome.pending) {
    const hint = waited ? 'the wait timed out' : 'use --wait to wait for it';
    return note(`task ${id} has not finished (state: ${info.state}); ${hint}`);
  }
  if (info.state === 'completed') return printLine(JSON.stringify(info.result ?? null));
  const why = info.error ? `: ${info.error.type}: ${info.error.message}` : '';
  note(`task ${id} ${info.state === 'cancelled' ? 'was cancelled' : 'failed'}${why}`);
}

function reportMany(outcomes: Outcome[]): void {
  const rows = outcomes.map((outcome) => {
    const { id, info } = outcome;
    if (!info) return [id, 'not_found', ''];
    const state = outcome.pending ? `${info.state} (timed out)` : info.state;
    const detail = info.state === 'completed' ? compactJson(info.result ?? null) : info.error ? `${info.error.type}: ${info.error.message}` : '';
    return [id, state, detail];
  });
  printTable(['ID', 'STATE', 'RESULT / ERROR'], rows);
}
