// Shared pieces of the benchmarks: timing, percentiles, temp databases and child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Milliseconds on a clock shared by every process of this machine (CLOCK_MONOTONIC), with sub-microsecond
 * precision: only differences mean anything. Not `performance.timeOrigin + performance.now()`: a process
 * reads its time origin's wall clock and monotonic clock one after the other as it starts, and in some
 * processes they were up to 140 us apart (twenty-first session), as large an error as the cross-process
 * latencies measured with it.
 */
export function clockMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function tempDatabase(): { url: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-bench-'));
  return { url: `sqlite:${join(dir, 'bench.db')}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A child process that speaks JSON lines on stdout. */
export class JsonChild {
  private readonly waiting: Array<{ match: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }> = [];
  readonly process: ChildProcess;

  constructor(script: string, args: string[], nodeArgs: string[] = []) {
    this.process = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const index = this.waiting.findIndex((w) => w.match(message));
      if (index >= 0) this.waiting.splice(index, 1)[0]!.resolve(message);
    });
  }

  /** The next message of `type`. */
  next(type: string, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${type}' from child within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({
        match: (m) => m.type === type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.process.exitCode !== null) return resolve();
      this.process.once('exit', () => resolve());
      this.process.kill('SIGTERM');
    });
  }
}

export function formatRate(perSecond: number): string {
  return `${Math.round(perSecond).toLocaleString('en-US')}/s`;
}
