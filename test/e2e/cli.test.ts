// End-to-end tests of the `celeriac` binary: the built bin/celeriac.js run as a child process against
// a fresh SQLite file (and, for the commands with a worker, a fresh redis-server too), with a real worker
// process loading test/fixtures/cli-app.ts through -A.
// Needs `npm run build` first (npm test builds before the e2e tests).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProgressBar } from '../../src/cli/progress-bar.js';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { tempDir } from '../support/tmp.js';

const BIN = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url));
const APP = fileURLToPath(new URL('../fixtures/cli-app.ts', import.meta.url));
const FIXED_APP = fileURLToPath(new URL('../fixtures/cli-fixed-app.ts', import.meta.url));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DEADLINE_MS = 15_000;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of every child: nothing inherited that would choose a broker, an app or a level. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['CELERIAC_BROKER_URL', 'CELERIAC_APP', 'CELERIAC_LOG_LEVEL', 'CELERIAC_DEBUG']) delete env[name];
  return env;
}

/** Runs the CLI to completion (killed after a deadline), feeding `input` on stdin. */
function cli(args: string[], options: { input?: string; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: childEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`celeriac ${args.join(' ')} did not exit within ${DEADLINE_MS} ms\n${stderr}`));
    }, DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** One error line, prefixed, without a stack trace. */
function assertCleanError(ran: Ran, pattern: RegExp): void {
  assert.match(ran.stderr, /^celeriac: /);
  assert.match(ran.stderr, pattern);
  assert.doesNotMatch(ran.stderr, /\n\s+at /, 'no stack trace without --verbose');
}

interface WorkerProcess {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** Resolves with the first log entry (already read or still to come) that matches, within the deadline. */
  logged(match: (entry: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
}

/** Starts `celeriac worker` and resolves once it logs "worker online" (JSON, as stdout is a pipe). */
function startWorker(broker: string, extra: string[] = []): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '-A', APP, '--broker', broker, ...extra], { env: childEnv() });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const onLine = new Set<() => void>();
  const logged = (match: (entry: Record<string, unknown>) => boolean, what: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        onLine.delete(check);
        reject(new Error(`no log entry ${what} within ${DEADLINE_MS} ms`));
      }, DEADLINE_MS);
      const check = () => {
        const found = logs.find(match);
        if (!found) return;
        clearTimeout(timer);
        onLine.delete(check);
        resolve(found);
      };
      onLine.add(check);
      check();
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not online within ${DEADLINE_MS} ms\n${stderr}`)), DEADLINE_MS);
    void exited.then((code) => reject(new Error(`worker exited (${code}) before it was online\n${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      for (const check of onLine) check();
      if (entry.msg === 'worker online') {
        clearTimeout(timer);
        resolve({ child, logs, exited, logged });
      }
    });
  });
}

/** Re-runs `read` until `check` passes or the deadline passes; each run is a CLI process. */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${DEADLINE_MS} ms`);
  }
}

// The same commands on the embedded SQLite broker and on a redis-server the test starts (the usage
// docs/redis.md shows: the broker URL of a Redis).
for (const kind of ['SQLite', 'Redis'] as const) describe(`celeriac CLI with a worker (${kind})`, () => {
  const dir = tempDir('celeriac-cli-');
  let redis: RedisServer | undefined;
  let b: string[] = [];
  let worker: WorkerProcess;

  before(async () => {
    redis = kind === 'Redis' ? await startRedisServer() : undefined;
    const broker = redis ? `${redis.url}?prefix=cli` : `sqlite:${dir.path}/x.db`;
    b = ['--broker', broker];
    worker = await startWorker(broker, ['-c', '4', '-n', 'cli-test@%h', '--shutdown-timeout', '300ms']);
  });
  after(async () => {
    worker?.child.kill('SIGKILL');
    await redis?.stop();
    dir.cleanup();
  });

  test('enqueue by name, then status and result --wait', async () => {
    const enqueued = await cli(['enqueue', 'test.add', '{"a":2,"b":3}', ...b]);
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const id = enqueued.stdout.trim();
    assert.match(id, UUID);
    const result = await cli(['result', id, '--wait', '--timeout', '10s', ...b]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), '5');
    const status = await cli(['status', id, '--json', ...b]);
    assert.equal(status.code, 0);
    const info = JSON.parse(status.stdout) as { state: string; result: number; name: string };
    assert.deepEqual([info.name, info.state, info.result], ['test.add', 'completed', 5]);
  });

  test('enqueue --wait on many tasks: --count, --each and JSON lines on stdin', async () => {
    const counted = await cli(['enqueue', 'test.echo', '{"n":1}', '--count', '3', '--wait', '--json', ...b]);
    assert.equal(counted.code, 0, counted.stderr);
    const lines = jsonLines(counted.stdout);
    assert.equal(lines.length, 3);
    for (const line of lines) assert.deepEqual([line.state, line.result], ['completed', { n: 1 }]);
    assert.equal(counted.stderr, '', 'no progress bar when stderr is not a terminal');

    const each = await cli(['enqueue', 'test.echo', '[1,2,3]', '--each', '--wait', '--json', ...b]);
    assert.deepEqual(jsonLines(each.stdout).map((line) => line.result), [1, 2, 3]);

    const piped = await cli(['enqueue', 'test.add', '-', '--wait', '--json', ...b], { input: '{"a":1,"b":1}\n\n{"a":2,"b":2}\n' });
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(jsonLines(piped.stdout).map((line) => line.result), [2, 4]);
  });

  test('a failed task: exit 1 for enqueue --wait and for result', async () => {
    const failed = await cli(['enqueue', 'test.fail', '--wait', ...b]);
    assert.equal(failed.code, 1);
    assertCleanError(failed, /failed: NonRetryableError: boom/);
    const ok = (await cli(['enqueue', 'test.add', '{"a":0,"b":1}', ...b])).stdout.trim();
    const bad = (await cli(['enqueue', 'test.fail', ...b])).stdout.trim();
    const both = await cli(['result', ok, bad, '--wait', '--timeout', '10s', '--json', ...b]);
    assert.equal(both.code, 1);
    const byId = new Map(jsonLines(both.stdout).map((line) => [line.id, line]));
    assert.equal(byId.get(ok)?.state, 'completed');
    assert.deepEqual(byId.get(bad)?.error, { type: 'NonRetryableError', message: 'boom' });
  });

  test('inspect workers, registered, queues, stats and active as JSON; revoke a running task', async () => {
    const workers = JSON.parse((await cli(['inspect', 'workers', '--json', ...b])).stdout) as Array<{ name: string; live: boolean; concurrency: number }>;
    assert.equal(workers.length, 1);
    assert.match(workers[0]!.name, /^cli-test@/);
    assert.deepEqual([workers[0]!.live, workers[0]!.concurrency], [true, 4]);

    const registered = JSON.parse((await cli(['inspect', 'registered', '--json', ...b])).stdout) as { tasks: string[] };
    assert.deepEqual(registered.tasks, ['test.add', 'test.crash', 'test.echo', 'test.fail', 'test.floating', 'test.sleep']);

    const queues = JSON.parse((await cli(['inspect', 'queues', '--json', ...b])).stdout) as Array<{ name: string; workers: number }>;
    assert.deepEqual(queues.map((q) => [q.name, q.workers]), [['default', 1]]);

    const stats = JSON.parse((await cli(['inspect', 'stats', '--json', ...b])).stdout) as { total: { counts: { completed: number } } };
    assert.ok(stats.total.counts.completed >= 1);

    const id = (await cli(['enqueue', 'test.sleep', '{"ms":60000}', ...b])).stdout.trim();
    const active = await eventually(
      async () => JSON.parse((await cli(['inspect', 'active', '--json', ...b])).stdout) as Array<{ id: string }>,
      (tasks) => tasks.some((task) => task.id === id),
      'task active',
    );
    assert.equal(active.length, 1);
    const revoked = await cli(['revoke', id, ...b]);
    assert.deepEqual([revoked.code, revoked.stdout.trim()], [0, 'requested']);
    const result = await cli(['result', id, '--wait', '--timeout', '10s', ...b]);
    assert.equal(result.code, 1);
    assertCleanError(result, /was cancelled/);
  });

  test('a task that leaves a rejected promise behind: logged, and the worker runs on', async () => {
    const floating = await cli(['enqueue', 'test.floating', '--wait', ...b]);
    assert.equal(floating.code, 0);
    assert.equal(floating.stdout.trim(), '"ok"');
    const entry = await worker.logged((e) => /unhandled promise rejection/.test(String(e.msg)), 'about the rejection');
    assert.equal((entry.err as { message?: string }).message, 'a background call failed');
    const sum = await cli(['enqueue', 'test.add', '{"a":1,"b":2}', '--wait', ...b]);
    assert.equal(sum.stdout.trim(), '3', 'the same worker process runs the next task');
  });

  test('SIGTERM: the worker hands back its active task and exits 0', async () => {
    const id = (await cli(['enqueue', 'test.sleep', '{"ms":60000}', ...b])).stdout.trim();
    await eventually(
      async () => (JSON.parse((await cli(['status', id, '--json', ...b])).stdout) as { state: string }).state,
      (state) => state === 'active',
      'task active',
    );
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0);
    assert.ok(worker.logs.some((entry) => entry.msg === 'worker offline'));
    const status = JSON.parse((await cli(['status', id, '--json', ...b])).stdout) as { state: string };
    assert.equal(status.state, 'queued');
    const active = JSON.parse((await cli(['inspect', 'active', '--json', ...b])).stdout) as unknown[];
    assert.deepEqual(active, []);
  });
});

test('an uncaught exception in a task: the worker lets its running task finish, then exits 70', async () => {
  const dir = tempDir('celeriac-crash-');
  try {
    const broker = `sqlite:${dir.path}/x.db`;
    const b = ['--broker', broker];
    const worker = await startWorker(broker, ['-c', '4', '--shutdown-timeout', '20s']);
    const sleeping = (await cli(['enqueue', 'test.sleep', '{"ms":1500}', ...b])).stdout.trim();
    await eventually(
      async () => (JSON.parse((await cli(['status', sleeping, '--json', ...b])).stdout) as { state: string }).state,
      (state) => state === 'active',
      'task active',
    );
    await cli(['enqueue', 'test.crash', ...b]);
    assert.equal(await worker.exited, 70);
    const fatal = worker.logs.find((entry) => /uncaught exception; shutting down gracefully/.test(String(entry.msg)));
    assert.equal((fatal?.err as { message?: string } | undefined)?.message, 'a callback threw');
    assert.ok(worker.logs.some((entry) => entry.msg === 'worker offline'));
    const status = JSON.parse((await cli(['status', sleeping, '--json', ...b])).stdout) as { state: string; result?: unknown };
    assert.equal(status.state, 'completed', 'the task running beside the crash finished and was stored');
  } finally {
    dir.cleanup();
  }
});

describe('celeriac CLI without a worker', () => {
  const dir = tempDir('celeriac-cli-');
  const broker = `sqlite:${dir.path}/y.db`;
  const b = ['--broker', broker];
  after(() => dir.cleanup());

  const waiting = async () =>
    (JSON.parse((await cli(['inspect', 'queues', '--json', ...b])).stdout) as Array<{ name: string; waiting: number }>).reduce(
      (sum, queue) => sum + queue.waiting,
      0,
    );

  test('schema validation failure and bad JSON: exit 2, nothing queued', async () => {
    const invalid = await cli(['enqueue', 'test.add', '{"a":1}', '-A', APP, ...b]);
    assert.equal(invalid.code, 2);
    assertCleanError(invalid, /invalid input for task 'test.add': b: /);
    const partlyInvalid = await cli(['enqueue', 'test.add', '-', '-A', APP, ...b], { input: '{"a":1,"b":2}\n{"a":"x","b":2}\n' });
    assert.equal(partlyInvalid.code, 2);
    const badJson = await cli(['enqueue', 'test.add', '{a:1}', ...b]);
    assert.equal(badJson.code, 2);
    assertCleanError(badJson, /not valid JSON/);
    const badLine = await cli(['enqueue', 'test.add', '-', ...b], { input: '{"a":1}\nnope\n' });
    assert.equal(badLine.code, 2);
    assertCleanError(badLine, /line 2 of standard input/);
    assert.equal(await waiting(), 0);
  });

  test('revoke a queued task, then purge needs --yes', async () => {
    const id = (await cli(['enqueue', 'test.echo', '"x"', '--queue', 'q1', ...b])).stdout.trim();
    assert.deepEqual((await cli(['revoke', id, ...b])).stdout.trim(), 'cancelled');
    assert.equal((JSON.parse((await cli(['status', id, '--json', ...b])).stdout) as { state: string }).state, 'cancelled');
    assert.deepEqual(jsonLines((await cli(['revoke', id, '--json', ...b])).stdout), [{ id, outcome: 'finished' }]);

    await cli(['enqueue', 'test.echo', '1', '--count', '2', '--queue', 'q1', ...b]);
    await cli(['enqueue', 'test.echo', '1', '--queue', 'q2', '--delay', '1h', ...b]);
    const refused = await cli(['purge', ...b]);
    assert.equal(refused.code, 2);
    assertCleanError(refused, /--yes/);
    assert.equal(await waiting(), 3);
    const scheduled = JSON.parse((await cli(['inspect', 'scheduled', '--json', ...b])).stdout) as Array<{ queue: string }>;
    assert.deepEqual(scheduled.map((task) => task.queue), ['q2']);
    assert.deepEqual(JSON.parse((await cli(['purge', 'q1', '--yes', '--json', ...b])).stdout), { purged: 2, queue: 'q1' });
    assert.deepEqual(JSON.parse((await cli(['purge', '--yes', '--json', ...b])).stdout), { purged: 1, queue: null });
    assert.equal(await waiting(), 0);
  });

  test('exit codes: unknown id 4, timeout 5, bad broker 3, usage 2', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const command of ['status', 'result', 'revoke']) {
      const ran = await cli([command, unknown, ...b]);
      assert.equal(ran.code, 4, `${command}: ${ran.stderr}`);
    }
    const id = (await cli(['enqueue', 'test.echo', '1', ...b])).stdout.trim();
    const timedOut = await cli(['result', id, '--timeout', '200ms', ...b]);
    assert.equal(timedOut.code, 5);
    assertCleanError(timedOut, /has not finished \(state: queued\)/);
    assert.equal((await cli(['result', id, ...b])).code, 5, 'without --wait an unfinished task is not ready');

    const nonsense = await cli(['enqueue', 'test.echo', '1', '--broker', 'nonsense://x']);
    assert.equal(nonsense.code, 3);
    assertCleanError(nonsense, /unsupported broker URL 'nonsense:\/\/x'/);
    assert.equal(nonsense.stderr.trim().split('\n').length, 1);
    writeFileSync(`${dir.path}/a-file`, '');
    const unwritable = await cli(['inspect', 'stats', '--broker', `sqlite:${dir.path}/a-file/x.db`]);
    assert.equal(unwritable.code, 3);
    assertCleanError(unwritable, /cannot open SQLite broker/);
    const port = await freePort();
    const unreachable = await cli(['inspect', 'stats', '--broker', `redis://:secret@127.0.0.1:${port}`]);
    assert.equal(unreachable.code, 3);
    assertCleanError(unreachable, new RegExp(`redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}: connection refused`));

    const usage = [
      ['enqueue', 'test.echo', '--priority', 'bogus', ...b],
      ['enqueue', 'test.echo', '--delay', 'soon', ...b],
      ['inspect', 'everything', ...b],
      ['status', id, '--nope', ...b],
      ['worker', ...b],
      ['status', id, '-A', `${dir.path}/missing.ts`, ...b],
      ['status', id, '-A', FIXED_APP, ...b],
    ];
    const ran = await Promise.all(usage.map((args) => cli(args)));
    ran.forEach((result, i) => {
      assert.equal(result.code, 2, `${usage[i]!.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^celeriac: /);
    });
    assert.match(ran.at(-1)!.stderr, /--broker .* was given but the app in .* is bound to sqlite::memory:/);
    const verbose = await cli(['status', id, '--broker', 'nonsense://x', '--verbose']);
    assert.match(verbose.stderr, /\n\s+at /, '--verbose adds the stack');
  });
});

test('progress bar: drawn only on a terminal, fitted to its width', () => {
  const written: string[] = [];
  const tty = { isTTY: true, columns: 60, write: (text: string) => written.push(text) };
  const bar = new ProgressBar(4, tty);
  bar.tick(true);
  bar.tick(false);
  assert.match(bar.render(), /^waiting \[#+-+\] 2\/4 \(1 failed\) \d+\.\ds$/);
  assert.ok(bar.render().length <= 60);
  bar.clear();
  assert.ok(written.length > 0);
  const piped: string[] = [];
  const quiet = new ProgressBar(4, { isTTY: false, write: (text: string) => piped.push(text) });
  quiet.tick(true);
  quiet.draw();
  quiet.clear();
  assert.deepEqual(piped, []);
});
