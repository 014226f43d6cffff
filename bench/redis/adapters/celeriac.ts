// Celeriac through its public API only, on the Redis broker: `app.enqueueMany` for bulk, one
// `app.worker({ concurrency: 50 })`, `run.result()` to wait. Default retention (results kept for resultTtl).
import { Celeriac, createLogger, type Worker } from '../../../src/index.js';
import { countdown, LibraryUnavailableError, type BenchInput, type QueueUnderTest, type RedisTarget, type WorkerUnderTest } from '../adapter.js';

const TASK = 'bench.noop';

export async function openCeleriac(target: RedisTarget): Promise<QueueUnderTest> {
  const url = `redis://${target.host}:${target.port}`;
  const app = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
  let onStart: (input: BenchInput) => void = () => {};
  let ran = countdown();
  app.task({
    name: TASK,
    run(input: BenchInput) {
      onStart(input);
      ran.tick();
    },
  });
  try {
    await app.broker();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw new LibraryUnavailableError(error instanceof Error ? error.message : String(error));
  }

  return {
    library: 'celeriac',
    async enqueueBulk(inputs) {
      await app.enqueueMany(inputs.map((input) => ({ task: TASK, input })));
    },
    async enqueueOne(input) {
      await app.enqueue(TASK, input);
    },
    async enqueueAndWait(input) {
      const run = await app.enqueue(TASK, input);
      await run.result({ timeout: '10s' });
    },
    async startWorker(options): Promise<WorkerUnderTest> {
      onStart = options.onStart;
      ran = countdown();
      const counter = ran;
      const worker: Worker = app.worker({ concurrency: options.concurrency, handleSignals: false });
      await worker.start();
      return {
        async finished(count) {
          await counter.reached(count);
          await worker.close(); // Stores the last batch of results.
        },
        close: () => worker.close(),
      };
    },
    async completedCount() {
      return (await app.stats()).total.counts.completed ?? 0;
    },
    close: () => app.close(),
  };
}
