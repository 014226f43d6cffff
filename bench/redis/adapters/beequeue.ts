// Bee-Queue as its docs recommend: a producer Queue with `isWorker: false` and `getEvents: false`
// (saveAll for bulk), a worker Queue with `process(50, handler)`; removeOnSuccess, sendEvents and
// storeJobs at their defaults (finished jobs are kept; the worker publishes job events). A producer that
// waits for a job uses a second producer Queue with `getEvents: true` and the queue-level 'job succeeded'
// event: the job-level 'succeeded' event is lost when a worker in another process finishes the job before
// this process has read save()'s reply (the job is not yet in the queue's jobs map when the message arrives).
import BeeQueue from 'bee-queue';
import { countdown, type BenchInput, type QueueUnderTest, type RedisTarget, type WorkerUnderTest } from '../adapter.js';

const QUEUE = 'bench';

export async function openBeeQueue(target: RedisTarget): Promise<QueueUnderTest> {
  const redis = { host: target.host, port: target.port };
  const producer = new BeeQueue<BenchInput>(QUEUE, { redis, isWorker: false, getEvents: false });
  await producer.ready();
  let waiter: BeeQueue<BenchInput> | undefined;
  const pending = new Map<string, () => void>();
  const early = new Set<string>();
  const workers = new Set<BeeQueue<BenchInput>>();

  return {
    library: 'beequeue',
    async enqueueBulk(inputs) {
      const errors = await producer.saveAll(inputs.map((input) => producer.createJob(input)));
      if (errors.size > 0) throw [...errors.values()][0]!;
    },
    async enqueueOne(input) {
      await producer.createJob(input).save();
    },
    async enqueueAndWait(input) {
      if (!waiter) {
        waiter = new BeeQueue<BenchInput>(QUEUE, { redis, isWorker: false, getEvents: true, storeJobs: false });
        waiter.on('job succeeded', (id: string) => {
          const resolve = pending.get(id);
          if (resolve) {
            pending.delete(id);
            resolve();
          } else {
            early.add(id); // Finished before save() returned its id.
          }
        });
        await waiter.ready();
      }
      const job = await waiter.createJob(input).save();
      if (early.delete(job.id)) return;
      let timer: NodeJS.Timeout | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          pending.set(job.id, resolve);
          timer = setTimeout(() => reject(new Error(`bee-queue: job ${job.id} not finished within 10 s`)), 10_000);
        });
      } finally {
        clearTimeout(timer);
        pending.delete(job.id);
      }
    },
    async startWorker({ concurrency, onStart }): Promise<WorkerUnderTest> {
      const done = countdown();
      const worker = new BeeQueue<BenchInput>(QUEUE, { redis, getEvents: false });
      worker.on('succeeded', done.tick);
      worker.on('error', (error) => console.error(`bee-queue worker: ${error.message}`));
      workers.add(worker);
      await worker.ready();
      void worker.process(concurrency, async (job) => onStart(job.data));
      return {
        finished: (count) => done.reached(count),
        close: async () => {
          workers.delete(worker);
          await worker.close();
        },
      };
    },
    async completedCount() {
      return (await producer.checkHealth()).succeeded;
    },
    async close() {
      await Promise.all([...workers].map((worker) => worker.close()));
      await waiter?.close();
      await producer.close();
    },
  };
}
