// Terminal rendering for the example: a live status block redrawn in place on a terminal (plain periodic
// lines when stdout is a pipe or a file), and the tables printed once the batch is done.
import type { QueueStats, Stats, TaskError } from '../../src/index.js';
import type { TriageRecord } from './tasks.js';

/** What the live view shows; gathered by main.ts from `app.stats()` and `app.on(...)` events. */
export interface Snapshot {
  elapsedMs: number;
  emails: { total: number; completed: number; failed: number };
  /** Broker-wide now: queued, active, retrying (waiting out a backoff), scheduled. */
  waiting: { queued: number; active: number; retrying: number; scheduled: number };
  /** Tasks finished since this run started. */
  finished: { completed: number; failed: number };
  retries: number;
  /** A few running tasks with their last reported progress. */
  running: Array<{ name: string; percent: number; stage?: string; priority?: number }>;
}

const ESC = '\x1b[';
const paint = (on: boolean, code: string, text: string) => (on ? `${ESC}${code}m${text}${ESC}0m` : text);

export function bar(fraction: number, width: number, color = false): string {
  const clamped = Math.max(0, Math.min(1, fraction));
  const full = Math.round(clamped * width);
  return paint(color, '32', '█'.repeat(full)) + paint(color, '2', '░'.repeat(width - full));
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function pct(fraction: number | null): string {
  return fraction === null ? '-' : `${(fraction * 100).toFixed(1)}%`;
}

function pair(p: { p50: number; p95: number } | null): string {
  return p === null ? '-' : `${Math.round(p.p50)}/${Math.round(p.p95)} ms`;
}

/** Left-aligns the first column and right-aligns the rest. */
export function table(rows: string[][], indent = '  '): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return rows.map(
    (row) => indent + row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('  '),
  );
}

/** The status as one line: what a log file or CI output gets every second. */
export function statusLine(s: Snapshot): string {
  const done = s.emails.completed + s.emails.failed;
  return (
    `[${seconds(s.elapsedMs).padStart(6)}] emails ${done}/${s.emails.total} ` +
    `(${s.emails.completed} triaged, ${s.emails.failed} failed) | tasks: queued ${s.waiting.queued}, ` +
    `active ${s.waiting.active}, retrying ${s.waiting.retrying}, completed ${s.finished.completed}, ` +
    `failed ${s.finished.failed} | retries ${s.retries}`
  );
}

/** The status as a small block for a terminal. */
export function statusBlock(s: Snapshot, columns: number): string[] {
  const done = s.emails.completed + s.emails.failed;
  const width = Math.max(10, Math.min(40, columns - 40));
  const lines = [
    `  ${paint(true, '1', 'inbox-triage')}  ${bar(done / Math.max(1, s.emails.total), width, true)}  ` +
      `${done}/${s.emails.total} emails  ${seconds(s.elapsedMs)}`,
    `  tasks  queued ${paint(true, '36', String(s.waiting.queued).padStart(4))}   active ${paint(true, '33', String(s.waiting.active).padStart(3))}` +
      `   retrying ${paint(true, '35', String(s.waiting.retrying).padStart(3))}   completed ${paint(true, '32', String(s.finished.completed).padStart(4))}` +
      `   failed ${paint(true, '31', String(s.finished.failed).padStart(3))}   retries so far ${s.retries}`,
  ];
  for (const task of s.running.slice(0, 4)) {
    const label = `${task.name} ${priorityName(task.priority)}`.padEnd(30);
    lines.push(`    ${label} ${bar(task.percent / 100, 12)} ${String(Math.round(task.percent)).padStart(3)}%  ${task.stage ?? ''}`);
  }
  // A line wider than the terminal would wrap and break the redraw: drop its colours and cut it.
  return lines.map((line) => (plain(line).length < columns ? line : plain(line).slice(0, columns - 1)));
}

function priorityName(priority: number | undefined): string {
  if (priority === undefined) return '';
  return priority >= 15 ? '[urgent]' : priority >= 10 ? '[high]' : priority <= 0 ? '[low]' : '';
}

function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}

/** Redraws the status block in place on a terminal every `intervalMs`; prints a plain line otherwise. */
export class LiveView {
  private timer: NodeJS.Timeout | undefined;
  private drawn = 0;
  private busy = false;
  private lastPlain = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly snapshot: () => Promise<Snapshot>,
    private readonly options: { intervalMs?: number; plainEveryMs?: number } = {},
  ) {}

  get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  start(): void {
    if (this.tty) this.out.write(`${ESC}?25l`); // Hide the cursor while redrawing.
    this.timer = setInterval(() => void this.refresh(), this.options.intervalMs ?? 200);
    void this.refresh();
  }

  /** Draws the final state, stops refreshing and gives the cursor back. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.busy) await new Promise((resolve) => setImmediate(resolve));
    await this.refresh(true);
    if (this.tty) this.out.write(`${ESC}?25h`);
  }

  /** Puts the cursor back without drawing (on an abrupt exit). */
  restoreCursor(): void {
    if (this.tty) this.out.write(`${ESC}?25h`);
  }

  private async refresh(final = false): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const snapshot = await this.snapshot();
      if (this.tty) {
        const lines = statusBlock(snapshot, this.out.columns || 100);
        const up = this.drawn > 0 ? `${ESC}${this.drawn}A` : '';
        this.out.write(`${up}\r${ESC}0J${lines.join('\n')}\n`);
        this.drawn = lines.length;
      } else if (final || snapshot.elapsedMs - this.lastPlain >= (this.options.plainEveryMs ?? 1000)) {
        this.lastPlain = snapshot.elapsedMs;
        this.out.write(`${statusLine(snapshot)}\n`);
      }
    } catch {
      // The broker may be closing under us on shutdown; the next refresh (if any) tries again.
    } finally {
      this.busy = false;
    }
  }
}

/** The broker's `app.stats()` as a table: counts per queue, success rate, throughput and latencies. */
export function statsTable(stats: Stats): string[] {
  const header = ['queue', 'workers', 'queued', 'active', 'retrying', 'scheduled', 'completed', 'failed', 'cancelled', 'success', 'done/min', 'wait p50/p95', 'run p50/p95'];
  const row = (name: string, q: QueueStats) => [
    name,
    String(q.workers),
    String(q.counts.queued),
    String(q.counts.active),
    String(q.counts.retrying),
    String(q.counts.scheduled),
    String(q.counts.completed),
    String(q.counts.failed),
    String(q.counts.cancelled),
    pct(q.successRate),
    String(q.throughputPerMinute),
    pair(q.waitMs),
    pair(q.runMs),
  ];
  const queues = Object.keys(stats.queues).sort();
  return table([header, ...queues.map((name) => row(name, stats.queues[name]!)), row('(all)', stats.total)]);
}

/** How long each priority class took from submission to the end of its chain. */
export function priorityTable(rows: Array<{ priority: string; emails: number; p50: number | null; p95: number | null }>): string[] {
  const ms = (value: number | null) => (value === null ? '-' : `${Math.round(value)} ms`);
  return table([
    ['priority', 'emails', 'done after p50', 'p95'],
    ...rows.map((row) => [row.priority, String(row.emails), ms(row.p50), ms(row.p95)]),
  ]);
}

/** A finished email, indented for the "sample results" section. */
export function sampleLines(label: string, record: TriageRecord): string[] {
  const lines = [
    `  ${label}: ${record.from} - "${record.subject}"`,
    `    category ${record.category ?? '-'} (confidence ${record.confidence ?? '-'}), steps ${record.steps.join(' -> ')}`,
  ];
  if (record.summary) lines.push(`    summary: ${record.summary}`);
  if (record.draft) lines.push(`    draft:   ${record.draft.replace(/\n+/g, ' / ')}`);
  return lines;
}

export function failureLines(label: string, subject: string, error: TaskError | undefined): string[] {
  return [`  ${label}: "${subject}"`, `    failed: ${error ? `${error.type}: ${error.message}` : 'unknown error'}`];
}
