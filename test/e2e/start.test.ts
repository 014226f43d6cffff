// `npm start`: the inbox-triage example, run as a real process in a fresh directory (the embedded broker
// must appear there, relative to the cwd). With --once it reports and exits 0 with every email accounted
// for; without it, it keeps serving until SIGINT and then exits 0.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, test } from 'node:test';
import { pino } from 'pino';
import { Celeriac } from '../../src/index.js';
import { tempDir } from '../support/tmp.js';

const MAIN = fileURLToPath(new URL('../../examples/inbox-triage/main.ts', import.meta.url));
/** The tsx loader by absolute URL: the child's cwd is a temp dir with no node_modules. */
const TSX = import.meta.resolve('tsx');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The example as a child process, its stdout collected, waited on with deadlines. */
class Example {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout = '';
  stderr = '';
  private readonly watchers = new Set<() => void>();
  private exit: Exit | undefined;

  constructor(cwd: string, args: string[]) {
    const env = { ...process.env };
    delete env.CELERIAC_BROKER_URL; // The default broker, relative to the cwd, is what is under test.
    delete env.CELERIAC_EXAMPLE_EXIT;
    delete env.CELERIAC_LOG_LEVEL;
    this.child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
        this.notify();
      }),
    );
  }

  /** Resolves once stdout contains `text`; rejects if the process exits first or after `timeoutMs`. */
  waitForOutput(text: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no ${JSON.stringify(text)} on stdout within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
      const check = () => {
        if (this.stdout.includes(text)) done();
        else if (this.exit) done(new Error(`exited ${JSON.stringify(this.exit)} before printing ${JSON.stringify(text)}\n${this.tail()}`));
      };
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.watchers.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.watchers.add(check);
      check();
    });
  }

  async waitForExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(): Promise<void> {
    if (this.exit) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  tail(): string {
    return `--- stdout ---\n${this.stdout.slice(-3000)}\n--- stderr ---\n${this.stderr.slice(-3000)}`;
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
  }
}

const dirs: Array<{ cleanup: () => void }> = [];
const running: Example[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((example) => example.kill()));
});
after(() => dirs.forEach((dir) => dir.cleanup()));

function freshDir(): string {
  const dir = tempDir('celeriac-e2e-start-');
  dirs.push(dir);
  return dir.path;
}

test('--once: triages the batch on the default broker in the cwd, prints the stats, exits 0', async () => {
  const cwd = freshDir();
  const example = new Example(cwd, ['--once']);
  running.push(example);
  const exit = await example.waitForExit(60_000);
  assert.deepEqual(exit, { code: 0, signal: null }, example.tail());
  const out = example.stdout;

  const db = join(cwd, '.celeriac', 'celeriac.db');
  assert.ok(existsSync(db), `the default broker file ${db} was created in the cwd`);
  assert.match(out, /broker sqlite:\.celeriac\/celeriac\.db/);

  // The stats table from app.stats(), with both queues and the latency columns.
  assert.match(out, /Stats \(app\.stats\(\)/);
  assert.match(out, /queue\s+workers\s+queued\s+active\s+retrying\s+scheduled\s+completed\s+failed\s+cancelled\s+success\s+done\/min\s+wait p50\/p95\s+run p50\/p95/);
  assert.match(out, /^\s+inbox\s+\d+/m);
  assert.match(out, /^\s+drafts\s+\d+/m);
  assert.match(out, /Sample results:/);
  assert.match(out, /NonRetryableError: malformed email/);

  // Every submitted email ended triaged or, for the deliberately malformed ones, failed; some retried.
  const submitted = Number(/submitted (\d+) emails/.exec(out)?.[1]);
  assert.ok(submitted >= 60, `a realistic batch was submitted\n${example.tail()}`);
  const batch = /batch: (\d+) emails in [\d.]+s -> (\d+) triaged, (\d+) failed \((\d+) malformed, as expected\), (\d+) unexpected; (\d+) retries/.exec(out);
  assert.ok(batch, `no batch summary line\n${example.tail()}`);
  const [total, triaged, failed, malformed, unexpected, retries] = batch.slice(1).map(Number) as [number, number, number, number, number, number];
  assert.equal(total, submitted);
  assert.equal(triaged + failed, submitted);
  assert.ok(malformed > 0, 'the fixtures include malformed emails');
  assert.equal(failed, malformed, 'only malformed emails failed');
  assert.equal(unexpected, 0);
  assert.ok(retries > 0, 'some transient failures were retried');
  assert.match(out, new RegExp(`emails ${submitted}/${submitted}`), 'the progress reached the whole batch');

  // The broker agrees: read the example's database directly.
  const app = new Celeriac({ broker: `sqlite:${db}`, logger: pino({ level: 'silent' }) });
  try {
    const triage = await app.listTasks({ name: 'inbox.triage', limit: 1000 });
    assert.equal(triage.length, submitted);
    const failedTriage = triage.filter((task) => task.state === 'failed');
    assert.equal(failedTriage.length, malformed);
    for (const task of failedTriage) {
      assert.equal(task.error?.type, 'NonRetryableError');
      assert.equal(task.attempts, 1, 'a NonRetryableError is not retried');
    }
    const all = await app.listTasks({ limit: 10_000 });
    const unfinished = all.filter((task) => task.state !== 'completed' && task.state !== 'failed');
    assert.deepEqual(unfinished.map((task) => `${task.name} ${task.state}`), [], 'nothing left unfinished');
    assert.deepEqual([...new Set(all.filter((task) => task.state === 'failed').map((task) => task.name))], ['inbox.triage']);
    const retried = all.filter((task) => task.errors.length > 0 && task.state === 'completed');
    assert.ok(retried.length > 0, 'some tasks completed after a retry');
    assert.ok(retried.every((task) => task.errors.every((error) => error.type === 'RateLimitedError')));
    assert.ok(all.some((task) => task.queue === 'drafts'), 'replies were drafted on their own queue');
  } finally {
    await app.close();
  }
});

test('without --once: keeps serving until SIGINT, then stops gracefully with exit code 0', async () => {
  const cwd = freshDir();
  const example = new Example(cwd, []);
  running.push(example);
  await example.waitForOutput('press Ctrl+C to stop', 60_000);
  assert.equal(example.child.exitCode, null, 'still running after the batch');
  example.child.kill('SIGINT');
  const exit = await example.waitForExit(15_000);
  assert.deepEqual(exit, { code: 0, signal: null }, example.tail());
  assert.match(example.stdout, /worker stopped/);
});
