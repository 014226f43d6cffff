// A worker process for the cross-process Redis benchmarks: `worker-child.ts <library> <host> <port> <mode> <count>`.
// Prints JSON lines: online (worker started; latency mode), latency (after <count> timed tasks),
// processed (process mode: <count> tasks drained, timed from just before the worker starts; stream mode:
// after online, once <count> tasks sent meanwhile have finished, with the worker process's CPU time per
// task, untimed: the sender times it).
import { clockMs, quantile } from '../support.js';
import { openQueue, type Library } from './adapter.js';

const [library, host = '127.0.0.1', port = '6379', mode = 'latency', expected = '0'] = process.argv.slice(2);
const count = Number(expected);
const queue = await openQueue(library as Library, { host, port: Number(port) });
const latencies: number[] = [];
const send = (message: Record<string, unknown>) => console.log(JSON.stringify(message));

process.once('SIGTERM', () => {
  setTimeout(() => process.exit(1), 5_000).unref(); // A library that hangs in close.
  void queue.close().then(() => process.exit(0));
});

if (mode === 'latency') {
  await queue.startWorker({
    concurrency: 50,
    onStart(input) {
      if (input.sentAt === undefined) return; // Warm-up task.
      latencies.push(clockMs() - input.sentAt);
      if (latencies.length === count) {
        send({ type: 'latency', p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), n: latencies.length });
      }
    },
  });
  send({ type: 'online' });
} else if (mode === 'stream') {
  const worker = await queue.startWorker({ concurrency: 50, onStart: () => {} });
  send({ type: 'online' });
  const cpu = process.cpuUsage();
  await worker.finished(count);
  await worker.close();
  const used = process.cpuUsage(cpu);
  send({ type: 'processed', cpuUsPerTask: (used.user + used.system) / count });
} else {
  const started = performance.now();
  const worker = await queue.startWorker({ concurrency: 50, onStart: () => {} });
  await worker.finished(count);
  const ms = performance.now() - started;
  await worker.close();
  send({ type: 'processed', ms });
}
