// A worker process for the cross-process benchmarks. Prints JSON lines: online, latency, memory.
import { Celeriac, createLogger } from '../../src/index.js';
import { clockMs, quantile } from '../support.js';

const [url, mode = 'latency', expected = '0'] = process.argv.slice(2);
const app = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
const latencies: number[] = [];
const expectedCount = Number(expected);
let ran = 0;

app.task({
  name: 'bench.noop',
  run(input: { sentAt?: number }) {
    if (mode === 'latency' && input.sentAt !== undefined) {
      latencies.push(clockMs() - input.sentAt);
      if (latencies.length === expectedCount) report();
    }
    ran++;
    if (mode === 'memory' && ran % 10_000 === 0) setImmediate(sampleMemory);
  },
});

function report(): void {
  console.log(JSON.stringify({ type: 'latency', p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), n: latencies.length }));
}

function sampleMemory(): void {
  (globalThis as { gc?: () => void }).gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  console.log(JSON.stringify({ type: 'memory', ran, heapUsed, rss }));
}

const worker = app.worker({ concurrency: 50, handleSignals: false });
await worker.start();
console.log(JSON.stringify({ type: 'online' }));
if (mode === 'idle') {
  // CPU an idle worker spends per second: its polls, timers and heartbeats.
  // Measured from 3 s after start-up, so compilation and start-up garbage collection are not counted.
  const seconds = Number(expected) || 10;
  setTimeout(() => {
    const before = process.cpuUsage();
    setTimeout(() => {
      const used = process.cpuUsage(before);
      console.log(JSON.stringify({ type: 'idle', cpuMsPerSecond: (used.user + used.system) / 1000 / seconds, seconds }));
    }, seconds * 1000);
  }, 3_000);
}
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
