// The one interface the Redis benchmarks drive, so Celeriac, BullMQ and Bee-Queue run the same scenarios;
// one adapter per library in adapters/, each using its library the way that library's docs recommend.
export type Library = 'celeriac' | 'bullmq' | 'beequeue';

export const LIBRARIES: readonly Library[] = ['celeriac', 'bullmq', 'beequeue'];

export const LIBRARY_TITLES: Record<Library, string> = { celeriac: 'Celeriac', bullmq: 'BullMQ', beequeue: 'Bee-Queue' };

/** Where the benchmark's redis-server listens. */
export interface RedisTarget {
  host: string;
  port: number;
}

/** The input of every benchmark task: an index (bulk) or the sender's clock (latency). */
export interface BenchInput {
  i?: number;
  sentAt?: number;
}

export interface WorkerUnderTest {
  /**
   * Resolves once `count` tasks have finished with their results stored in Redis, as early as the
   * library can tell (its own completion event, or for Celeriac the worker's close, which stores the
   * last batch of results).
   */
  finished(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface QueueUnderTest {
  readonly library: Library;
  /** Enqueues every input with the library's bulk call (BullMQ addBulk, Bee-Queue saveAll, Celeriac enqueueMany). */
  enqueueBulk(inputs: BenchInput[]): Promise<void>;
  /** Enqueues one task with the library's single call (BullMQ add, Bee-Queue createJob().save(), Celeriac enqueue). */
  enqueueOne(input: BenchInput): Promise<void>;
  /** Enqueues one task and waits for it to finish, the way a producer of that library waits for a result. */
  enqueueAndWait(input: BenchInput): Promise<void>;
  /** Starts one worker on the benchmark queue; `onStart` runs at the start of every task's handler. */
  startWorker(options: { concurrency: number; onStart: (input: BenchInput) => void }): Promise<WorkerUnderTest>;
  /** Tasks the library's own counters report as completed (to check a run, outside the timing). */
  completedCount(): Promise<number>;
  close(): Promise<void>;
}

/** Thrown by an adapter whose library cannot connect at all (Celeriac before its Redis broker exists). */
export class LibraryUnavailableError extends Error {
  override readonly name = 'LibraryUnavailableError';
}

/** Opens the adapter of `library`; its module is loaded only when used. */
export async function openQueue(library: Library, target: RedisTarget): Promise<QueueUnderTest> {
  switch (library) {
    case 'celeriac':
      return (await import('./adapters/celeriac.js')).openCeleriac(target);
    case 'bullmq':
      return (await import('./adapters/bullmq.js')).openBullmq(target);
    case 'beequeue':
      return (await import('./adapters/beequeue.js')).openBeeQueue(target);
  }
}

/** A promise that resolves after `count` calls of the returned `tick`. */
export function countdown(): { tick: () => void; reached: (count: number) => Promise<void> } {
  let seen = 0;
  const waiting: Array<{ count: number; resolve: () => void }> = [];
  return {
    tick() {
      seen++;
      for (let i = waiting.length - 1; i >= 0; i--) {
        if (seen >= waiting[i]!.count) waiting.splice(i, 1)[0]!.resolve();
      }
    },
    reached(count) {
      if (seen >= count) return Promise.resolve();
      return new Promise((resolve) => waiting.push({ count, resolve }));
    },
  };
}
