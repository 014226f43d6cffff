// The SQLite broker benchmarks of docs/benchmarks.md: no-op tasks, 20,000 tasks, concurrency 50.
import { fileURLToPath } from 'node:url';
import { Celeriac, connectBroker, createLogger } from '../../src/index.js';
import { newTaskId } from '../../src/ids.js';
import { clockMs, JsonChild, median, quantile, tempDatabase } from '../support.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 1_000);
const MEMORY_TASKS = Number(process.env.BENCH_MEMORY_TASKS ?? 100_000);
const CHILD = fileURLToPath(new URL('./worker-child.ts', import.meta.url));

function openApp(url: string): Celeriac {
  return new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
}

function noopItems(count: number) {
  return Array.from({ length: count }, (_, i) => ({ task: 'bench.noop', input: { i } }));
}

/** enqueueMany of TASKS tasks in one call; median of ROUNDS after one warm-up round. */
export async function bulkEnqueue(): Promise<{ perSecond: number; rounds: number[] }> {
  const db = tempDatabase();
  const app = openApp(db.url);
  try {
    await app.enqueueMany(noopItems(TASKS));
    const rounds: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const items = noopItems(TASKS);
      const started = performance.now();
      await app.enqueueMany(items);
      rounds.push(TASKS / ((performance.now() - started) / 1000));
    }
    return { perSecond: median(rounds), rounds };
  } finally {
    await app.close();
    db.cleanup();
  }
}

/** TASKS queued no-op tasks drained by one in-process worker at concurrency 50; median of ROUNDS. */
export async function processing(): Promise<{ perSecond: number; rounds: number[] }> {
  const rounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const db = tempDatabase();
    const app = openApp(db.url);
    let ran = 0;
    let allRan!: () => void;
    const done = new Promise<void>((resolve) => (allRan = resolve));
    app.task({ name: 'bench.noop', run: () => void (++ran === TASKS && allRan()) });
    try {
      await app.enqueueMany(noopItems(TASKS));
      const worker = app.worker({ concurrency: 50, handleSignals: false });
      const started = performance.now();
      await worker.start();
      await done;
      await worker.close(); // Includes storing the last batch of results.
      rounds.push(TASKS / ((performance.now() - started) / 1000));
      const counts = (await app.stats()).total.counts;
      if (counts.completed !== TASKS) throw new Error(`expected ${TASKS} completed, found ${counts.completed}`);
    } finally {
      await app.close();
      db.cleanup();
    }
  }
  return { perSecond: median(rounds), rounds };
}

/** Enqueue-to-start of one task at a time on an idle worker in the same process. */
export async function latencyInProcess(): Promise<{ p50: number; p99: number }> {
  const db = tempDatabase();
  const app = openApp(db.url);
  const latencies: number[] = [];
  const task = app.task({
    name: 'bench.noop',
    run: (input: { sentAt: number }) => void latencies.push(clockMs() - input.sentAt),
  });
  try {
    const worker = app.worker({ concurrency: 50, handleSignals: false });
    await worker.start();
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const run = await task.enqueue({ sentAt: clockMs() });
      await run.result({ timeout: '10s' });
    }
    return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
  } finally {
    await app.close();
    db.cleanup();
  }
}

/** Enqueue-to-start with the worker in another process, woken through the database file. */
export async function latencyCrossProcess(): Promise<{ p50: number; p99: number }> {
  const db = tempDatabase();
  const child = new JsonChild(CHILD, [db.url, 'latency', String(LATENCY_SAMPLES)]);
  const app = openApp(db.url);
  try {
    await child.next('online');
    const report = child.next('latency');
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const run = await app.enqueue('bench.noop', { sentAt: clockMs() });
      await run.result({ timeout: '10s' });
    }
    const { p50, p99 } = await report;
    return { p50: p50 as number, p99: p99 as number };
  } finally {
    await child.stop();
    await app.close();
    db.cleanup();
  }
}

/** A worker process's heap and RSS after each 10,000 of MEMORY_TASKS tasks (after a forced GC). */
export async function memory(): Promise<{ samples: Array<{ ran: number; heapUsed: number; rss: number }> }> {
  const db = tempDatabase();
  const child = new JsonChild(CHILD, [db.url, 'memory'], ['--expose-gc']);
  const app = openApp(db.url);
  const samples: Array<{ ran: number; heapUsed: number; rss: number }> = [];
  try {
    await child.next('online');
    for (let sent = 0; sent < MEMORY_TASKS; sent += 10_000) {
      const sample = child.next('memory');
      await app.enqueueMany(noopItems(10_000));
      samples.push((await sample) as never);
    }
    return { samples };
  } finally {
    await child.stop();
    await app.close();
    db.cleanup();
  }
}

/**
 * Lease-next at depth: median time to lease (and complete) 50 tasks with QUEUE_DEPTH queued, against the
 * same with 10,000 queued. O(log n) indexes keep the two close.
 */
export async function leaseAtDepth(): Promise<{ depth: number; shallowMs: number; deepMs: number; enqueuePerSecond: number }> {
  const depth = Number(process.env.BENCH_QUEUE_DEPTH ?? 1_000_000);
  const shallowMs = await medianLeaseMs(10_000);
  const started = performance.now();
  const deepMs = await medianLeaseMs(depth, (count) => count / ((performance.now() - started) / 1000));
  return { depth, shallowMs, deepMs, enqueuePerSecond: lastFillRate };
}

let lastFillRate = 0;

async function medianLeaseMs(depth: number, rate?: (count: number) => number): Promise<number> {
  const db = tempDatabase();
  const broker = await connectBroker(db.url);
  try {
    const execution = { retry: { maxRetries: 0, backoff: 'exponential' as const, delay: 1000, maxDelay: 60_000, jitter: true }, ignoreResult: false };
    for (let filled = 0; filled < depth; filled += 50_000) {
      const count = Math.min(50_000, depth - filled);
      const now = Date.now();
      await broker.enqueue(
        Array.from({ length: count }, (_, i) => ({
          id: newTaskId(),
          name: 'bench.noop',
          queue: 'default',
          priority: i % 16,
          input: { i },
          createdAt: now,
          execution,
        })),
      );
    }
    if (rate) lastFillRate = rate(depth);
    const samples: number[] = [];
    for (let round = 0; round < 100; round++) {
      const startedAt = performance.now();
      const now = Date.now();
      const leased = await broker.lease({ workerId: 'bench', queues: ['default'], limit: 50, leaseMs: 30_000, now });
      await broker.settle(leased.map((task) => ({ kind: 'complete', taskId: task.id, workerId: 'bench', result: null, now })));
      samples.push(performance.now() - startedAt);
    }
    return median(samples);
  } finally {
    await broker.close();
    db.cleanup();
  }
}

/** CPU time an idle worker process spends per second, over IDLE_SECONDS. */
export async function idleWorker(): Promise<{ cpuMsPerSecond: number; seconds: number }> {
  const seconds = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
  const db = tempDatabase();
  const child = new JsonChild(CHILD, [db.url, 'idle', String(seconds)]);
  try {
    await child.next('online');
    const report = await child.next('idle', (seconds + 33) * 1000);
    return { cpuMsPerSecond: report.cpuMsPerSecond as number, seconds };
  } finally {
    await child.stop();
    db.cleanup();
  }
}
