// The worker's live count on a terminal: one line at the bottom of stderr (active/concurrency,
// processed, failed, uptime), redrawn a few times a second. Log lines written through `wrap()` clear
// it first and redraw it after, so the two never interleave.
import { Writable } from 'node:stream';
import type { Celeriac } from '../index.js';

const REDRAW_MS = 250;

export interface WorkerView {
  readonly id: string;
  readonly name: string;
  readonly concurrency: number;
  readonly activeCount: number;
}

export class LiveStatus {
  private processed = 0;
  private failed = 0;
  private readonly started = new Set<string>();
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private off: (() => void) | undefined;
  private shown = false;
  private worker: WorkerView | undefined;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly wanted = true,
  ) {}

  get enabled(): boolean {
    return this.wanted && Boolean(this.stream.isTTY);
  }

  /** Starts counting the worker's settled tasks from the broker's events and drawing the line. */
  start(app: Celeriac, worker: WorkerView): void {
    if (!this.enabled) return;
    this.worker = worker;
    this.off = app.on('*', (event) => {
      if (event.type === 'task.started' && event.workerId === worker.id) this.started.add(event.taskId);
      if (!('taskId' in event) || !this.started.has(event.taskId)) return;
      if (event.type === 'task.completed' || event.type === 'task.failed' || event.type === 'task.retrying' || event.type === 'task.cancelled') {
        this.started.delete(event.taskId);
        this.processed++;
        if (event.type === 'task.failed') this.failed++;
      }
    });
    this.timer = setInterval(() => this.draw(), REDRAW_MS);
    this.timer.unref();
    this.draw();
  }

  stop(): void {
    clearInterval(this.timer);
    this.off?.();
    this.clear();
    this.worker = undefined;
  }

  /** A stream for log lines that keeps the status line below them. */
  wrap(target: NodeJS.WritableStream): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.clear();
        target.write(chunk);
        this.draw();
        callback();
      },
    });
  }

  private draw(): void {
    if (!this.worker) return;
    const w = this.worker;
    const line = `${w.name}  active ${w.activeCount}/${w.concurrency}  processed ${this.processed}  failed ${this.failed}  up ${uptime(Date.now() - this.startedAt)}`;
    this.stream.write(`\r\x1b[2m${line.slice(0, (this.stream.columns ?? 120) - 1)}\x1b[0m\x1b[K`);
    this.shown = true;
  }

  private clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}

/** `42s`, `12m05s`, `3h07m`: whole units, steady as it ticks. */
function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}
