// Stats: counts by state, live workers, success rate, throughput and wait/run percentiles per queue.
import type { Broker, FinishedSample } from './broker/broker.js';
import { emptyCounts, type StateCounts, type WorkerInfo } from './types.js';

export interface Percentiles {
  p50: number;
  p95: number;
}

export interface QueueStats {
  counts: StateCounts;
  /** Live workers consuming this queue. */
  workers: number;
  /** completed / (completed + failed) over retained tasks; null before any finished. */
  successRate: number | null;
  /** Tasks finished in the last minute. */
  throughputPerMinute: number;
  /** From ready to started, over tasks finished in the last minute (the latest 20,000 of them); null when none. */
  waitMs: Percentiles | null;
  /** From started to finished, over tasks completed or failed in the last minute. */
  runMs: Percentiles | null;
}

export interface Stats {
  queues: Record<string, QueueStats>;
  /** Every queue together. */
  total: QueueStats;
  workers: { live: number; registered: number };
  at: Date;
}

const WINDOW_MS = 60_000;
const SAMPLE_LIMIT = 20_000;

export function isLive(worker: WorkerInfo, now: number): boolean {
  return now - worker.heartbeatAt.getTime() <= 3 * worker.heartbeatInterval;
}

export async function collectStats(broker: Broker, now = Date.now()): Promise<Stats> {
  const [counts, workers, finished, samples] = await Promise.all([
    broker.counts(),
    broker.listWorkers(),
    broker.countFinishedSince(now - WINDOW_MS),
    broker.finishedSince(now - WINDOW_MS, SAMPLE_LIMIT),
  ]);
  const live = workers.filter((worker) => isLive(worker, now));
  const queues: Record<string, QueueStats> = {};
  const names = new Set([...Object.keys(counts), ...live.flatMap((worker) => worker.queues)]);
  for (const queue of names) {
    queues[queue] = queueStats(
      counts[queue] ?? emptyCounts(),
      live.filter((worker) => worker.queues.includes(queue)).length,
      finished[queue] ?? 0,
      samples.filter((sample) => sample.queue === queue),
    );
  }
  const totalCounts = emptyCounts();
  for (const byState of Object.values(counts)) {
    for (const [state, n] of Object.entries(byState)) totalCounts[state as keyof StateCounts] += n;
  }
  return {
    queues,
    total: queueStats(totalCounts, live.length, sum(Object.values(finished)), samples),
    workers: { live: live.length, registered: workers.length },
    at: new Date(now),
  };
}

function sum(values: number[]): number {
  return values.reduce((total, n) => total + n, 0);
}

/** `finished`: how many finished in the window; `samples`: some of them (the latest), for percentiles. */
function queueStats(counts: StateCounts, workers: number, finished: number, samples: FinishedSample[]): QueueStats {
  const ended = counts.completed + counts.failed;
  const started = samples.filter((sample) => sample.startedAt !== undefined && sample.state !== 'cancelled');
  return {
    counts,
    workers,
    successRate: ended === 0 ? null : counts.completed / ended,
    throughputPerMinute: finished,
    waitMs: percentiles(started.map((sample) => sample.startedAt! - sample.readyAt)),
    runMs: percentiles(started.map((sample) => sample.finishedAt - sample.startedAt!)),
  };
}

export function percentiles(values: number[]): Percentiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p95: at(0.95) };
}
