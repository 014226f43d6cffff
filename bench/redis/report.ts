// The Redis comparison table: one row per figure, a column per library, then Celeriac/BullMQ and
// Celeriac/Bee-Queue ratios (skipped while Celeriac's Redis broker is not available).
import { formatRate } from '../support.js';
import { LIBRARIES, LIBRARY_TITLES, type Library } from './adapter.js';
import type { LibraryResults, RedisResults } from './scenarios.js';

interface Figure {
  key: string;
  label: string;
  /** Lower is better (latency, commands, memory); ratios are Celeriac/other either way. */
  lowerIsBetter: boolean;
  get: (r: LibraryResults) => number | undefined;
  format: (value: number) => string;
}

const ms = (value: number) => `${value.toFixed(3)} ms`;
const FIGURES: Figure[] = [
  { key: 'bulkEnqueuePerSecond', label: 'bulk enqueue', lowerIsBetter: false, get: (r) => r.bulkEnqueue?.perSecond, format: formatRate },
  { key: 'processingPerSecond', label: 'processing (c=50)', lowerIsBetter: false, get: (r) => r.processing?.perSecond, format: formatRate },
  { key: 'latencyP50Ms', label: 'latency p50', lowerIsBetter: true, get: (r) => r.latency?.p50, format: ms },
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
    key: 'processingCrossProcessPerSecond',
    label: 'processing, x-process',
    lowerIsBetter: false,
    get: (r) => r.processingCrossProcess?.perSecond,
    format: formatRate,
  },
  { key: 'latencyCrossProcessP50Ms', label: 'latency p50, x-process', lowerIsBetter: true, get: (r) => r.latencyCrossProcess?.p50, format: ms },
  { key: 'latencyCrossProcessP99Ms', label: 'latency p99, x-process', lowerIsBetter: true, get: (r) => r.latencyCrossProcess?.p99, format: ms },
  { key: 'latencySpacedP50Ms', label: 'latency p50, spaced', lowerIsBetter: true, get: (r) => r.latencySpaced?.p50, format: ms },
  {
    key: 'latencySpacedCrossProcessP50Ms',
    label: 'latency p50, spaced x-process',
    lowerIsBetter: true,
    get: (r) => r.latencySpacedCrossProcess?.p50,
    format: ms,
  },
  {
    key: 'commandsPerTaskCrossProcess',
    label: 'commands/task, x-process',
    lowerIsBetter: true,
    get: (r) => r.processingCrossProcess?.commandsPerTask,
    format: (v) => v.toFixed(2),
  },
];

export type Ratios = Record<'celeriacOverBullmq' | 'celeriacOverBeequeue', Record<string, number>>;

/** Celeriac/BullMQ and Celeriac/Bee-Queue for every figure all three have; undefined without Celeriac. */
export function ratios(results: RedisResults): Ratios | undefined {
  const celeriac = results.libraries.celeriac;
  if (!celeriac?.available) return undefined;
  const over = (other: Library) => {
    const out: Record<string, number> = {};
    for (const figure of FIGURES) {
      const mine = figure.get(celeriac);
      const theirs = results.libraries[other] && figure.get(results.libraries[other]);
      if (mine !== undefined && theirs) out[figure.key] = mine / theirs;
    }
    return out;
  };
  return { celeriacOverBullmq: over('bullmq'), celeriacOverBeequeue: over('beequeue') };
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
    const showRatio = (value: number | undefined) =>
      value === undefined ? '-' : `${value.toFixed(2)}x${figure.lowerIsBetter ? ' (lower is better)' : ''}`;
    rows.push([
      figure.label,
      ...cells,
      showRatio(ratio?.celeriacOverBullmq[figure.key]),
      showRatio(ratio?.celeriacOverBeequeue[figure.key]),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const render = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(render)];
}
