// A one-line progress bar on stderr for waits on many tasks. Only drawn on a terminal; elsewhere every
// call is a no-op, so piped output carries nothing decorative.

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const REDRAW_MS = 80;

export class ProgressBar {
  private done = 0;
  private failed = 0;
  private lastDraw = 0;
  private readonly startedAt = Date.now();
  readonly enabled: boolean;

  constructor(
    private readonly total: number,
    private readonly stream: ProgressStream = process.stderr,
    private readonly label = 'waiting',
  ) {
    this.enabled = Boolean(stream.isTTY) && total > 1;
  }

  /** Counts one finished task (`ok` false for failed, cancelled, timed out or missing). */
  tick(ok: boolean): void {
    this.done++;
    if (!ok) this.failed++;
    if (this.done === this.total || Date.now() - this.lastDraw >= REDRAW_MS) this.draw();
  }

  draw(): void {
    if (!this.enabled) return;
    this.lastDraw = Date.now();
    this.stream.write(`\r${this.render()}\x1b[K`);
  }

  /** Erases the bar so the next output starts on a clean line. */
  clear(): void {
    if (this.enabled) this.stream.write('\r\x1b[K');
  }

  /** `waiting [#####-----] 50/100 (2 failed) 3.1s`, fitted to the terminal width. */
  render(): string {
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    const failed = this.failed ? ` (${this.failed} failed)` : '';
    const tail = ` ${this.done}/${this.total}${failed} ${seconds}s`;
    const room = (this.stream.columns ?? 80) - this.label.length - tail.length - 4;
    const width = Math.max(10, Math.min(40, room));
    const filled = this.total === 0 ? width : Math.round((this.done / this.total) * width);
    return `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${tail}`;
  }
}
