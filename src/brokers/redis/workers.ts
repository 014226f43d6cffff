// The worker registry: one hash `{P}:workers`, with 'w:<id>' holding the worker's record and
// 'hb:<id>' its last heartbeat [at, active, processed, failed].
import type { WorkerInfo } from '../../types.js';
import type { CeleriacEvent } from '../../events.js';
import { publishing, script, type RedisContext } from './context.js';

type StoredWorker = Omit<WorkerInfo, 'startedAt' | 'heartbeatAt' | 'active' | 'processed' | 'failed'> & { startedAt: number };
type Heartbeat = [at: number, active: number, processed: number, failed: number];

export async function registerWorker(ctx: RedisContext, worker: WorkerInfo): Promise<void> {
  const { startedAt, heartbeatAt, active, processed, failed, ...rest } = worker;
  const stored: StoredWorker = { ...rest, startedAt: startedAt.getTime() };
  const beat: Heartbeat = [heartbeatAt.getTime(), active, processed, failed];
  await script(ctx, 'register', [ctx.keys.workers], [worker.id, JSON.stringify(stored), JSON.stringify(beat)]);
}

export async function heartbeat(
  ctx: RedisContext,
  id: string,
  stats: { active: number; processed: number; failed: number },
  now: number,
): Promise<void> {
  const beat: Heartbeat = [now, stats.active, stats.processed, stats.failed];
  const event: CeleriacEvent = { type: 'worker.heartbeat', workerId: id, timestamp: now, ...stats };
  await publishing(ctx, [], (header) => [
    script(ctx, 'heartbeat', [ctx.keys.workers], [id, JSON.stringify(beat), ctx.keys.channel, ctx.events.message(header, [event])]),
  ]);
}

export async function unregisterWorker(ctx: RedisContext, id: string): Promise<void> {
  await ctx.client.hdel(ctx.keys.workers, `w:${id}`, `hb:${id}`);
}

export async function listWorkers(ctx: RedisContext): Promise<WorkerInfo[]> {
  const fields = await ctx.client.hgetall(ctx.keys.workers);
  const workers: WorkerInfo[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (!field.startsWith('w:')) continue;
    const worker = decodeWorker(value, fields[`hb:${field.slice(2)}`]);
    if (worker) workers.push(worker);
  }
  return workers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Drops workers whose last heartbeat is older than `before`. */
export async function pruneWorkers(ctx: RedisContext, before: number): Promise<void> {
  const fields = await ctx.client.hgetall(ctx.keys.workers);
  const silent: string[] = [];
  for (const field of Object.keys(fields)) {
    if (!field.startsWith('hb:') && !(field.startsWith('w:') && fields[`hb:${field.slice(2)}`] === undefined)) continue;
    const id = field.slice(field.indexOf(':') + 1);
    const beat = parseHeartbeat(fields[`hb:${id}`]);
    if (!beat || beat[0] < before) silent.push(`w:${id}`, `hb:${id}`);
  }
  if (silent.length > 0) await ctx.client.hdel(ctx.keys.workers, ...silent);
}

function decodeWorker(info: string, heartbeatText: string | undefined): WorkerInfo | undefined {
  try {
    const stored = JSON.parse(info) as StoredWorker;
    const [at, active, processed, failed] = parseHeartbeat(heartbeatText) ?? [stored.startedAt, 0, 0, 0];
    return { ...stored, startedAt: new Date(stored.startedAt), heartbeatAt: new Date(at), active, processed, failed };
  } catch {
    return undefined;
  }
}

function parseHeartbeat(text: string | undefined): Heartbeat | undefined {
  if (text === undefined) return undefined;
  try {
    const beat = JSON.parse(text) as unknown;
    return Array.isArray(beat) && beat.length === 4 && beat.every((n) => typeof n === 'number') ? (beat as Heartbeat) : undefined;
  } catch {
    return undefined;
  }
}
