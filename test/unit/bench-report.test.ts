import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTable, ratios } from '../../bench/redis/report.js';
import type { Latency, LibraryResults, RedisResults } from '../../bench/redis/scenarios.js';

const latency = (p50s: Array<number | undefined>): Latency => {
  const rounds = p50s.flatMap((p50, round) => (p50 === undefined ? [] : [{ round, p50, p99: p50 * 3, roundTripP50: p50 * 4 }]));
  return { p50: 0, p99: 0, roundTripP50: 0, rounds }; // p50 of the rounds is not what ratios use: left at 0 on purpose.
};

function results(libraries: Partial<Record<'celeriac' | 'bullmq' | 'beequeue', LibraryResults>>): RedisResults {
  return {
    redisVersion: '7.0.0',
    tasks: 20_000,
    rounds: 3,
    concurrency: 50,
    latencySamples: 1_000,
    latencyRounds: 3,
    memoryTasks: 100_000,
    latencyGapMs: 2,
    latencyWarmUpTasks: 50,
    latencyWarmTasks: 2_000,
    libraries: libraries as RedisResults['libraries'],
    leftOpen: false,
  };
}

describe('the Redis benchmark report', () => {
  it('compares latency round by round: the median of the rounds both measured', () => {
    const ratio = ratios(
      results({
        celeriac: { available: true, latencyCrossProcess: latency([0.375, 0.5, 0.25]) },
        beequeue: { available: true, latencyCrossProcess: latency([0.25, 0.5, undefined]) },
        bullmq: { available: true, latencyCrossProcess: latency([0.75, 1, 0.5]) },
      }),
    );
    assert.ok(ratio);
    // Rounds 0 and 1 only (Bee-Queue has no round 2): 1.5 and 1.0; the lower median of two is 1.0.
    assert.deepEqual(ratio.rounds.celeriacOverBeequeue.latencyCrossProcessP50Ms, [1.5, 1]);
    assert.equal(ratio.celeriacOverBeequeue.latencyCrossProcessP50Ms, 1);
    assert.deepEqual(ratio.rounds.celeriacOverBullmq.latencyCrossProcessP50Ms, [0.5, 0.5, 0.5]);
    assert.equal(ratio.celeriacOverBullmq.latencyCrossProcessP50Ms, 0.5);
    // The round trip of the same rounds (four times each p50 here): compared the same way.
    assert.deepEqual(ratio.rounds.celeriacOverBeequeue.roundTripCrossProcessP50Ms, [1.5, 1]);
  });

  it('compares rates round by round too, by the round each was measured in', () => {
    const rate = (values: number[], roundNumbers: number[]) => ({ perSecond: 0, rounds: values, roundNumbers });
    const ratio = ratios(
      results({
        // Celeriac's round 1 failed: its rounds are 0 and 2.
        celeriac: { available: true, bulkEnqueue: rate([300, 100], [0, 2]) },
        beequeue: { available: true, bulkEnqueue: rate([200, 400, 50], [0, 1, 2]) },
      }),
    );
    assert.ok(ratio);
    assert.deepEqual(ratio.rounds.celeriacOverBeequeue.bulkEnqueuePerSecond, [1.5, 2]);
  });

  it('divides the medians for figures not measured in shared rounds, and shows the spread of paired ones', () => {
    const memory = (bytesPer100k: number) => ({ bytesPer100k, tasks: 100_000, bytes: bytesPer100k });
    const results_ = results({
      celeriac: { available: true, memory: memory(300), latency: latency([0.2, 0.4]) },
      beequeue: { available: true, memory: memory(200), latency: latency([0.4, 0.4]) },
    });
    const ratio = ratios(results_);
    assert.ok(ratio);
    assert.equal(ratio.celeriacOverBeequeue.memoryPer100kQueued, 1.5);
    assert.equal(ratio.rounds.celeriacOverBeequeue.memoryPer100kQueued, undefined);
    const row = formatTable(results_, ratio).find((line) => line.startsWith('latency p50 '));
    assert.match(row ?? '', /0\.50x \[0\.50-1\.00\] \(lower is better\)/);
  });

  it('gives no ratios without Celeriac', () => {
    assert.equal(ratios(results({ beequeue: { available: true } })), undefined);
  });
});
