// BullMQ as its docs recommend for throughput: a Queue to produce (addBulk for bulk), one Worker with
// `concurrency: 50`; removeOnComplete/removeOnFail left at their defaults (keep finished jobs, as
// Celeriac keeps results for its resultTtl and Bee-Queue keeps them with removeOnSuccess off).
// A producer waits for a job through QueueEvents and job.waitUntilFinished.
import { Queue, QueueEvents, Worker } from 'bullmq';
import { countdown, type BenchInput, type QueueUnderTest, type RedisTarget, type WorkerUnderTest } from '../adapter.js';

const QUEUE = 'bench';

export async function openBullmq(target: RedisTarget): Promise<QueueUnderTest> {
  // Connection options rather than a shared client: BullMQ then makes its own clients, blocking ones included.
  const connection = { host: target.host, port: target.port };
  const queue = new Queue<BenchInput>(QUEUE, { connection });
  await queue.waitUntilReady();
  let events: QueueEvents | undefined;
  const workers = new Set<Worker>();

  return {
    library: 'bullmq',
    async enqueueBulk(inputs) {
      await queue.addBulk(inputs.map((data) => ({ name: 'noop', data })));
    },
    async enqueueOne(input) {
      await queue.add('noop', input);
    },
    async enqueueAndWait(input) {
      if (!events) {
        events = new QueueEvents(QUEUE, { connection });
        await events.waitUntilReady();
      }
      const job = await queue.add('noop', input);
      await job.waitUntilFinished(events, 10_000);
    },
    async startWorker({ concurrency, onStart }): Promise<WorkerUnderTest> {
      const done = countdown();
      const worker = new Worker<BenchInput>(QUEUE, async (job) => onStart(job.data), { connection, concurrency });
      worker.on('completed', done.tick);
      worker.on('error', (error) => console.error(`bullmq worker: ${error.message}`));
      workers.add(worker);
      await worker.waitUntilReady();
      return {
        finished: (count) => done.reached(count),
        close: async () => {
          workers.delete(worker);
          await worker.close();
        },
      };
    },
    async completedCount() {
      return (await queue.getJobCounts('completed')).completed ?? 0;
    },
    async close() {
      await Promise.all([...workers].map((worker) => worker.close()));
      await events?.close();
      await queue.close();
    },
  };
}
