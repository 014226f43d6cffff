// The Redis comparison table: one row per figure, a column per library, then Celeriac/BullMQ and
// Celeriac/Bee-Queue ratios (skipped while Celeriac's Redis broker is not available). A ratio of a figure
// measured in rounds (rates, latency, Redis CPU) is the median of the rounds' ratios, each round comparing
// runs made one right after another, with the lowest and highest of them: the spread shows how much of
// a difference is noise. Other figures (commands, memory) divide the medians.
import { formatRate, median } from '../support.js';
import { LIBRARIES, LIBRARY_TITLES, type Library } from './adapter.js';
import type { Latency, LibraryResults, Rate, RedisResults, SingleEnqueue } from './scenarios.js';

interface Figure {
  key: string;
  label: string;
  /** Lower is better (latency, commands, memory); ratios are Celeriac/other either way. */
  lowerIsBetter: boolean;
  get: (r: LibraryResults) => number | undefined;
  format: (value: number) => string;
  /** A figure measured in rounds that the libraries run in turn: compared round by round. */
  rounds?: (r: LibraryResults) => Array<{ round: number; value: number }> | undefined;
}

const p50Rounds = (latency: Latency | undefined) => latency?.rounds?.map(({ round, p50 }) => ({ round, value: p50 }));
const roundTripRounds = (latency: Latency | undefined) => latency?.rounds?.map(({ round, roundTripP50 }) => ({ round, value: roundTripP50 }));
/** The round trip (enqueue to result in hand) of a latency mode. */
const roundTrip = (key: string, label: string, of: (r: LibraryResults) => Latency | undefined): Figure => ({
  key,
  label,
  lowerIsBetter: true,
  get: (r) => of(r)?.roundTripP50,
  format: ms,
  rounds: (r) => roundTripRounds(of(r)),
});
const rateRounds = (rate: Rate | undefined) => rate?.rounds.map((value, i) => ({ round: rate.roundNumbers[i]!, value }));
const redisCpuRounds = (single: SingleEnqueue | undefined) =>
  single?.redisCpuRounds.map((value, i) => ({ round: single.roundNumbers[i]!, value }));

const ms = (value: number) => `${value.toFixed(3)} ms`;
const FIGURES: Figure[] = [
  { key: 'bulkEnqueuePerSecond', label: 'bulk enqueue', lowerIsBetter: false, get: (r) => r.bulkEnqueue?.perSecond, format: formatRate, rounds: (r) => rateRounds(r.bulkEnqueue) },
  { key: 'processingPerSecond', label: 'processing (c=50)', lowerIsBetter: false, get: (r) => r.processing?.perSecond, format: formatRate, rounds: (r) => rateRounds(r.processing) },
  { key: 'latencyP50Ms', label: 'latency p50', lowerIsBetter: true, get: (r) => r.latency?.p50, format: ms, rounds: (r) => p50Rounds(r.latency) },
  { key: 'latencyP99Ms', label: 'latency p99', lowerIsBetter: true, get: (r) => r.latency?.p99, format: ms },
  { key: 'commandsPerTask', label: 'commands per task', lowerIsBetter: true, get: (r) => r.processing?.commandsPerTask, format: (v) => v.toFixed(2) },
  {
    key: 'memoryPer100kQueued',
    label: 'memory / 100,000 queued',
    lowerIsBetter: true,
    get: (r) => r.memory?.bytesPer100k,
    format: (v) => `${(v / 1024 / 1024).toFixed(1)} MB`,
  },
  {
    key: 'singleEnqueuePerSecond',
    label: 'one at a time (enqueue+run)',
    lowerIsBetter: false,
    get: (r) => r.singleEnqueue?.perSecond,
    format: formatRate,
    rounds: (r) => rateRounds(r.singleEnqueue),
  },
  {
    key: 'singleEnqueueRedisCpuUs',
    label: 'Redis CPU/task, one at a time',
    lowerIsBetter: true,
    get: (r) => r.singleEnqueue?.redisCpuUsPerTask,
    format: (v) => `${v.toFixed(1)} us`,
    rounds: (r) => redisCpuRounds(r.singleEnqueue),
  },
  {
    key: 'singleEnqueueCommandsPerTask',
    label: 'commands/task, one at a time',
    lowerIsBetter: true,
    get: (r) => r.singleEnqueue?.commandsPerTask,
    format: (v) => v.toFixed(2),
  },
  {
    key: 'processingCrossProcessPerSecond',
    label: 'processing, x-process',
    lowerIsBetter: false,
    get: (r) => r.processingCrossProcess?.perSecond,
    format: formatRate,
    rounds: (r) => rateRounds(r.processingCrossProcess),
  },
  {
    key: 'latencyCrossProcessP50Ms',
    label: 'latency p50, x-process',
    lowerIsBetter: true,
    get: (r) => r.latencyCrossProcess?.p50,
    format: ms,
    rounds: (r) => p50Rounds(r.latencyCrossProcess),
  },
  { key: 'latencyCrossProcessP99Ms', label: 'latency p99, x-process', lowerIsBetter: true, get: (r) => r.latencyCrossProcess?.p99, format: ms },
  {
    key: 'latencyWarmP50Ms',
    label: 'latency p50, warm',
    lowerIsBetter: true,
    get: (r) => r.latencyWarm?.p50,
    format: ms,
    rounds: (r) => p50Rounds(r.latencyWarm),
  },
  {
    key: 'latencyWarmCrossProcessP50Ms',
    label: 'latency p50, warm x-process',
    lowerIsBetter: true,
    get: (r) => r.latencyWarmCrossProcess?.p50,
    format: ms,
    rounds: (r) => p50Rounds(r.latencyWarmCrossProcess),
  },
  roundTrip('roundTripP50Ms', 'round trip p50 (enqueue to result)', (r) => r.latency),
  roundTrip('roundTripWarmP50Ms', 'round trip p50, warm', (r) => r.latencyWarm),
  {
    key: 'latencySpacedP50Ms',
    label: 'latency p50, spaced',
    lowerIsBetter: true,
    get: (r) => r.latencySpaced?.p50,
    format: ms,
    rounds: (r) => p50Rounds(r.latencySpaced),
  },
  {
    key: 'latencySpacedCrossProcessP50Ms',
    label: 'latency p50, spaced x-process',
    lowerIsBetter: true,
    get: (r) => r.latencySpacedCrossProcess?.p50,
    format: ms,
    rounds: (r) => p50Rounds(r.latencySpacedCrossProcess),
  },
  roundTrip('roundTripCrossProcessP50Ms', 'round trip p50, x-process', (r) => r.latencyCrossProcess),
  roundTrip('roundTripWarmCrossProcessP50Ms', 'round trip p50, warm x-process', (r) => r.latencyWarmCrossProcess),
  {
    key: 'singleEnqueueCrossProcessPerSecond',
    label: 'one at a time, x-process',
    lowerIsBetter: false,
    get: (r) => r.singleEnqueueCrossProcess?.perSecond,
    format: formatRate,
    rounds: (r) => rateRounds(r.singleEnqueueCrossProcess),
  },
  {
    key: 'singleEnqueueCrossProcessRedisCpuUs',
    label: 'Redis CPU/task, one at a time, x-process',
    lowerIsBetter: true,
    get: (r) => r.singleEnqueueCrossProcess?.redisCpuUsPerTask,
    format: (v) => `${v.toFixed(1)} us`,
    rounds: (r) => redisCpuRounds(r.singleEnqueueCrossProcess),
  },
  {
    key: 'singleEnqueueCrossProcessCommandsPerTask',
    label: 'commands/task, one at a time, x-process',
    lowerIsBetter: true,
    get: (r) => r.singleEnqueueCrossProcess?.commandsPerTask,
    format: (v) => v.toFixed(2),
  },
  {
    key: 'commandsPerTaskCrossProcess',
    label: 'commands/task, x-process',
    lowerIsBetter: true,
    get: (r) => r.processingCrossProcess?.commandsPerTask,
    format: (v) => v.toFixed(2),
  },
];

type Versus = 'celeriacOverBullmq' | 'celeriacOverBeequeue';
export type Ratios = Record<Versus, Record<string, number>> & {
  /** For figures compared round by round: each round's ratio, in round order. */
  rounds: Record<Versus, Record<string, number[]>>;
};

/** Celeriac/BullMQ and Celeriac/Bee-Queue for every figure all three have; undefined without Celeriac. */
export function ratios(results: RedisResults): Ratios | undefined {
  const celeriac = results.libraries.celeriac;
  if (!celeriac?.available) return undefined;
  const over = (other: Library) => {
    const out: Record<string, number> = {};
    const perRound: Record<string, number[]> = {};
    const theirs = results.libraries[other];
    if (!theirs) return { out, perRound };
    for (const figure of FIGURES) {
      const paired = figure.rounds && pairedRatios(figure.rounds(celeriac), figure.rounds(theirs));
      if (paired && paired.length > 0) {
        perRound[figure.key] = paired;
        out[figure.key] = median(paired);
        continue;
      }
      const mine = figure.get(celeriac);
      const value = figure.get(theirs);
      if (mine !== undefined && value) out[figure.key] = mine / value;
    }
    return { out, perRound };
  };
  const bullmq = over('bullmq');
  const beequeue = over('beequeue');
  return {
    celeriacOverBullmq: bullmq.out,
    celeriacOverBeequeue: beequeue.out,
    rounds: { celeriacOverBullmq: bullmq.perRound, celeriacOverBeequeue: beequeue.perRound },
  };
}

/** mine/theirs for each round both measured. */
function pairedRatios(
  mine: Array<{ round: number; value: number }> | undefined,
  theirs: Array<{ round: number; value: number }> | undefined,
): number[] | undefined {
  if (!mine || !theirs) return undefined;
  const byRound = new Map(theirs.map(({ round, value }) => [round, value]));
  const out: number[] = [];
  for (const { round, value } of mine) {
    const other = byRound.get(round);
    if (other) out.push(value / other);
  }
  return out;
}

/** The table as text lines. */
export function formatTable(results: RedisResults, ratio: Ratios | undefined): string[] {
  const header = ['figure', ...LIBRARIES.map((l) => LIBRARY_TITLES[l]), 'Celeriac/BullMQ', 'Celeriac/Bee-Queue'];
  const rows: string[][] = [];
  for (const figure of FIGURES) {
    if (!LIBRARIES.some((l) => results.libraries[l] && figure.get(results.libraries[l]) !== undefined)) continue;
    const cells = LIBRARIES.map((library) => {
      const r = results.libraries[library];
      if (!r) return '-';
      if (!r.available) return 'broker not available';
      const value = figure.get(r);
      return value === undefined ? 'failed' : figure.format(value);
    });
    const showRatio = (versus: Versus) => {
      const value = ratio?.[versus][figure.key];
      if (value === undefined) return '-';
      const perRound = ratio?.rounds[versus][figure.key];
      const spread = perRound && perRound.length > 1 ? ` [${Math.min(...perRound).toFixed(2)}-${Math.max(...perRound).toFixed(2)}]` : '';
      return `${value.toFixed(2)}x${spread}${figure.lowerIsBetter ? ' (lower is better)' : ''}`;
    };
    rows.push([figure.label, ...cells, showRatio('celeriacOverBullmq'), showRatio('celeriacOverBeequeue')]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const render = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(render)];
}
