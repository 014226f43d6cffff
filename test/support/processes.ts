// Child processes for end-to-end tests: start the e2e worker fixture, wait on its output or its exit
// (always with a deadline), and kill every child a test started, even when the test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER_FIXTURE = fileURLToPath(new URL('../fixtures/e2e-worker.ts', import.meta.url));

/** What the fixture prints on stdout once its worker is online. */
export interface OnlineLine {
  event: 'online';
  workerId: string;
  name: string;
  pid: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running child process with its output collected. */
export class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout = '';
  stderr = '';
  private exit: Exit | undefined;
  private readonly watchers = new Set<() => void>();

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.process = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise<Exit>((resolve) => {
      this.process.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
        this.notify();
      });
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Lines printed on stdout so far, parsed as JSON where they are JSON. */
  stdoutLines(): unknown[] {
    return this.stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          return line;
        }
      });
  }

  /** JSON lines printed on stderr so far (the fixture's pino log); other lines are skipped. */
  stderrLines(): Array<Record<string, unknown>> {
    return this.stderr.split('\n').flatMap((line) => {
      try {
        const value = JSON.parse(line) as unknown;
        return typeof value === 'object' && value !== null ? [value as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  }

  /**
   * Resolves once `check` returns a value other than undefined (checked on every output chunk);
   * rejects if the process exits first or the deadline passes.
   */
  waitFor<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const evaluate = () => {
        const value = check();
        if (value !== undefined) return finish(() => resolve(value));
        if (this.exit) {
          return finish(() =>
            reject(new Error(`process ${this.pid} exited (${JSON.stringify(this.exit)}) before ${what}\n${this.tail()}`)),
          );
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail()}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.watchers.delete(evaluate);
        settle();
      };
      this.watchers.add(evaluate);
      evaluate();
    });
  }

  /** Waits for a line on stderr (the fixture logs there) containing `text`. */
  waitForStderr(text: string, timeoutMs: number): Promise<true> {
    return this.waitFor(`stderr to contain ${JSON.stringify(text)}`, () => (this.stderr.includes(text) ? true : undefined), timeoutMs);
  }

  /** Waits for the process to exit; rejects after the deadline. */
  async waitForExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`process ${this.pid} did not exit within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes a line to the process's stdin. */
  send(line: string): void {
    this.process.stdin!.write(`${line}\n`);
  }

  /** Sends a signal if the process is still running. */
  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.process.kill(signal);
  }

  /** Kills the process (SIGKILL) and waits for it to be gone. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.process.kill('SIGKILL');
    await this.exited;
  }

  /** The end of the output, for failure messages. */
  tail(): string {
    return `--- stdout ---\n${this.stdout.slice(-2000)}\n--- stderr ---\n${this.stderr.slice(-4000)}`;
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
  }
}

/** Options of the fixture `test/fixtures/e2e-worker.ts`, passed as `--key=value`. */
export interface WorkerFixtureOptions {
  name?: string;
  concurrency?: number;
  leaseTime?: string;
  shutdownTimeout?: string;
  pollInterval?: string;
  /** Comma-separated queues; default 'default'. */
  queues?: string;
  /** File the `e2e.record` task appends `<taskId>\n` to. */
  log?: string;
  /** Make `e2e.hang` block until its signal aborts (else it completes at once). */
  hang?: boolean;
  /** pino level for the worker's log on stderr; default 'warn'. */
  logLevel?: string;
}

/** Every child started through a {@link Children}, so a test can kill them all in `after`. */
export class Children {
  private readonly all: Child[] = [];

  /** Starts the worker fixture; wait on `online` before relying on it. */
  startWorker(brokerUrl: string, options: WorkerFixtureOptions = {}): { child: Child; online: (timeoutMs?: number) => Promise<OnlineLine> } {
    const args = ['--import', 'tsx', WORKER_FIXTURE, brokerUrl];
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined || value === false) continue;
      args.push(value === true ? `--${key}` : `--${key}=${String(value)}`);
    }
    const child = this.start(process.execPath, args);
    const online = (timeoutMs = 30_000) =>
      child.waitFor(
        'the worker to come online',
        () => child.stdoutLines().find((line): line is OnlineLine => isOnlineLine(line)),
        timeoutMs,
      );
    return { child, online };
  }

  start(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
    const child = new Child(command, args, env);
    this.all.push(child);
    return child;
  }

  /** Kills every child still running and waits for each to be gone. */
  async killAll(): Promise<void> {
    await Promise.all(this.all.map((child) => child.kill()));
  }
}

function isOnlineLine(line: unknown): line is OnlineLine {
  return typeof line === 'object' && line !== null && (line as { event?: unknown }).event === 'online';
}
