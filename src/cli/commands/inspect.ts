// `celeriac inspect active|registered|stats|queues|workers|scheduled`: read-only views of the broker
// (and of the -A app's registry for `registered`), as tables or one JSON document.
import { Argument, type Command } from 'commander';
import type { Celeriac, QueueStats, Stats, TaskInfo, WorkerInfo } from '../../index.js';
import { ExitCode } from '../exit-codes.js';
import { withApp, type LoadedApp } from '../load-app.js';
import { ago, humanMs, printJson, printLine, printTable, relative } from '../output.js';
import { parsePositiveInt, withCommonOptions, type CommonOptions, type Finish } from '../options.js';

const VIEWS = ['active', 'registered', 'stats', 'queues', 'workers', 'scheduled'] as const;
type View = (typeof VIEWS)[number];

interface InspectFlags extends CommonOptions {
  queue?: string;
  limit: number;
}

export function inspectCommand(program: Command, finish: Finish): void {
  const command = program
    .command('inspect')
    .description('look at tasks, workers and queues')
    .addArgument(new Argument('<what>', 'what to show').choices(VIEWS))
    .option('-q, --queue <queue>', 'only this queue (active, scheduled)')
    .option('--limit <n>', 'at most this many tasks (active, scheduled)', parsePositiveInt, 100);
  withCommonOptions(command).action(async (what: View, flags: InspectFlags) => finish(await withApp(flags, (app, loaded) => inspect(what, app, loaded, flags))));
}

async function inspect(what: View, app: Celeriac, loaded: LoadedApp, flags: InspectFlags): Promise<number> {
  switch (what) {
    case 'active':
    case 'scheduled':
      await showTasks(what, app, flags);
      break;
    case 'registered':
      await showRegistered(app, loaded, flags);
      break;
    case 'stats':
      await showStats(app, flags);
      break;
    case 'queues':
      await showQueues(app, flags);
      break;
    case 'workers':
      await showWorkers(app, flags);
      break;
  }
  return ExitCode.Ok;
}

/** A worker is live while its last heartbeat is within three intervals. */
export function isLive(worker: WorkerInfo, now = Date.now()): boolean {
  return now - new Date(worker.heartbeatAt).getTime() <= 3 * worker.heartbeatInterval;
}

async function showTasks(what: 'active' | 'scheduled', app: Celeriac, flags: InspectFlags): Promise<void> {
  const filter = { queue: flags.queue, limit: flags.limit };
  const states = what === 'active' ? (['active'] as const) : (['scheduled', 'retrying'] as const);
  const lists = await Promise.all(states.map((state) => app.listTasks({ ...filter, state })));
  const tasks = lists.flat().slice(0, flags.limit);
  if (flags.json) return printJson(tasks);
  if (what === 'scheduled') {
    const rows = tasks.map((t) => [t.id, t.name, t.queue, t.state, t.priority, relative(t.scheduledFor), t.attempts]);
    return printTable(['ID', 'NAME', 'QUEUE', 'STATE', 'PRIORITY', 'RUN AT', 'ATTEMPTS'], rows, 'no scheduled or retrying tasks');
  }
  const names = new Map((await app.listWorkers()).map((w) => [w.id, w.name]));
  const rows = tasks.map((t: TaskInfo) => [
    t.id,
    t.name,
    t.queue,
    t.workerId ? (names.get(t.workerId) ?? t.workerId) : undefined,
    ago(t.startedAt),
    t.progress ? `${t.progress.percent}%` : undefined,
  ]);
  printTable(['ID', 'NAME', 'QUEUE', 'WORKER', 'STARTED', 'PROGRESS'], rows, 'no active tasks');
}

async function showRegistered(app: Celeriac, loaded: LoadedApp, flags: InspectFlags): Promise<void> {
  const workers = (await app.listWorkers()).filter((w) => isLive(w));
  const appTasks = loaded.module ? app.registeredTasks() : undefined;
  const all = [...new Set([...(appTasks ?? []), ...workers.flatMap((w) => w.tasks)])].sort();
  if (flags.json) {
    const byWorker = workers.map((w) => ({ id: w.id, name: w.name, tasks: w.tasks }));
    return printJson({ tasks: all, workers: byWorker, ...(appTasks ? { app: appTasks } : {}) });
  }
  const rows = all.map((task) => {
    const by = workers.filter((w) => w.tasks.includes(task)).map((w) => w.name);
    return [task, by.length ? by.join(', ') : 'none live', appTasks?.includes(task) ? 'yes' : appTasks ? 'no' : '-'];
  });
  printTable(['TASK', 'WORKERS', 'IN APP'], rows, 'no registered tasks: no live worker, and no app module (-A) given');
}

async function showStats(app: Celeriac, flags: InspectFlags): Promise<void> {
  const stats: Stats = await app.stats();
  if (flags.json) return printJson(stats);
  const header = ['QUEUE', 'QUEUED', 'SCHED', 'ACTIVE', 'RETRY', 'DONE', 'FAILED', 'CANCEL', 'WORKERS', 'OK%', '/MIN', 'WAIT p50/p95', 'RUN p50/p95'];
  const rows = Object.entries(stats.queues)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, q]) => statsRow(name, q));
  printTable(header, [...rows, statsRow('(total)', stats.total)]);
  printLine(`workers: ${stats.workers.live} live, ${stats.workers.registered} registered`);
}

function statsRow(name: string, q: QueueStats): Array<string | number> {
  const c = q.counts;
  const pct = q.successRate === null ? '-' : (q.successRate * 100).toFixed(1);
  const p = (x: { p50: number; p95: number } | null) => (x ? `${humanMs(x.p50)}/${humanMs(x.p95)}` : '-');
  return [name, c.queued, c.scheduled, c.active, c.retrying, c.completed, c.failed, c.cancelled, q.workers, pct, q.throughputPerMinute, p(q.waitMs), p(q.runMs)];
}

async function showQueues(app: Celeriac, flags: InspectFlags): Promise<void> {
  const stats = await app.stats();
  const queues = Object.entries(stats.queues)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, q]) => ({ name, waiting: q.counts.queued + q.counts.scheduled + q.counts.retrying, active: q.counts.active, workers: q.workers, counts: q.counts }));
  if (flags.json) return printJson(queues);
  printTable(['QUEUE', 'WAITING', 'ACTIVE', 'WORKERS'], queues.map((q) => [q.name, q.waiting, q.active, q.workers]), 'no queues yet');
}

async function showWorkers(app: Celeriac, flags: InspectFlags): Promise<void> {
  const now = Date.now();
  const workers = (await app.listWorkers()).map((w) => ({ ...w, live: isLive(w, now) }));
  if (flags.json) return printJson(workers);
  const rows = workers.map((w) => [
    w.name,
    w.live ? 'online' : 'lost',
    w.pid,
    w.queues.join(','),
    `${w.active}/${w.concurrency}`,
    w.processed,
    w.failed,
    ago(new Date(w.heartbeatAt), now),
  ]);
  printTable(['NAME', 'STATUS', 'PID', 'QUEUES', 'ACTIVE', 'PROCESSED', 'FAILED', 'HEARTBEAT'], rows, 'no workers registered');
}
