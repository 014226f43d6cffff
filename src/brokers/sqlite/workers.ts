// The worker registry: who is online, what they run, and their last heartbeat.
import type { WorkerInfo } from '../../types.js';
import { decodeWorker, encodeWorker } from './codec.js';
import type { SqliteContext } from './context.js';

export function registerWorker(ctx: SqliteContext, worker: WorkerInfo): void {
  ctx.statements.get('upsert_worker').run({ id: worker.id, info: encodeWorker(worker), now: worker.heartbeatAt.getTime() });
}

export function heartbeat(
  ctx: SqliteContext,
  id: string,
  stats: { active: number; processed: number; failed: number },
  now: number,
): boolean {
  return ctx.statements.get('heartbeat_worker').run({ id, now, ...stats }).changes > 0;
}

export function unregisterWorker(ctx: SqliteContext, id: string): void {
  ctx.statements.get('delete_worker').run({ id });
}

export function listWorkers(ctx: SqliteContext): WorkerInfo[] {
  const workers: WorkerInfo[] = [];
  for (const row of ctx.statements.get('list_workers').all()) {
    const worker = decodeWorker(row.info, row.heartbeat_at as number);
    if (worker) workers.push(worker);
  }
  return workers;
}
