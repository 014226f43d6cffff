// `npm start`: opens the broker (CELERIAC_BROKER_URL, else sqlite:.celeriac/celeriac.db in the cwd), starts a
// worker, submits a seeded inbox to the triage agent, shows live progress, prints the stats, then keeps serving
// until SIGINT/SIGTERM. `--once` (or CELERIAC_EXAMPLE_EXIT=1) exits after the report instead.
// Options: --emails N (default 120), --concurrency N (default 12), --seed N (default 42).
import { parseArgs } from 'node:util';
import {
  TaskFailedError,
  ValidationError,
  createLogger,
  type CeleriacEvent,
  type TaskError,
  type TaskRun,
} from '../../src/index.js';
import {
  LiveView,
  failureLines,
  priorityTable,
  sampleLines,
  seconds,
  statsTable,
  type Snapshot,
} from './display.js';
import { generateInbox, type FixtureEmail } from './fixtures.js';
import { app, priorityFor, triage, type StepResult, type TriageRecord } from './tasks.js';

const { values: args } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    emails: { type: 'string' },
    concurrency: { type: 'string' },
    seed: { type: 'string' },
  },
});
const once = args.once || ['1', 'true', 'yes'].includes(process.env.CELERIAC_EXAMPLE_EXIT ?? '');
const emailCount = positiveInt(args.emails ?? process.env.CELERIAC_EXAMPLE_EMAILS, 120, 'emails');
const concurrency = positiveInt(args.concurrency, 12, 'concurrency');
const seed = positiveInt(args.seed, 42, 'seed');
const out = process.stdout;
const say = (line = '') => out.write(`${line}\n`);

function positiveInt(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${what} must be a positive integer, got '${text}'`);
    process.exit(2);
  }
  return value;
}

type Outcome =
  | { state: 'completed'; fixture: FixtureEmail; record: TriageRecord; doneAfterMs: number }
  | { state: 'failed'; fixture: FixtureEmail; step: string; error: TaskError | undefined; doneAfterMs: number };

// --- worker ------------------------------------------------------------------------------------------------
// Library logs go to stdout as JSON; keep them to errors here so they do not tear through the live view.
const logger = createLogger({ level: process.env.CELERIAC_LOG_LEVEL ?? 'error' });
const worker = app.worker({
  queues: ['inbox', 'drafts'],
  concurrency,
  name: 'inbox-triage@%h',
  shutdownTimeout: '10s',
  handleSignals: false, // main.ts owns shutdown: close the worker, then the app, then exit 0.
  logger,
});

/** The live view, once the batch is running; shutdown gives the cursor back through it. */
const ui: { view?: LiveView } = {};
let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    ui.view?.restoreCursor();
    process.exit(130); // Second Ctrl+C: stop now.
  }
  stopping = true;
  ui.view?.restoreCursor();
  say(`\n${signal} received: finishing active tasks, then stopping (Ctrl+C again to force)`);
  try {
    await worker.close();
    await app.close();
    say('worker stopped; bye');
    process.exit(0);
  } catch (error) {
    console.error('error while stopping:', error);
    process.exit(1);
  }
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

say(`Celeriac inbox-triage example - broker ${app.url}`);
await worker.start();
say(`worker ${worker.name} online: queues ${worker.queues.join(', ')}, concurrency ${worker.concurrency}`);

// --- live counters from events -----------------------------------------------------------------------------
const baseline = (await app.stats()).total.counts;
let retries = 0;
const running = new Map<string, { name: string; percent: number; stage?: string; priority?: number }>();
const priorities = new Map<string, number>();
app.on('*', (event: CeleriacEvent) => {
  switch (event.type) {
    case 'task.queued':
      priorities.set(event.taskId, event.priority);
      break;
    case 'task.started':
      running.set(event.taskId, { name: event.name, percent: 0, priority: priorities.get(event.taskId) });
      break;
    case 'task.progress': {
      const task = running.get(event.taskId);
      const stage = (event.meta as { stage?: string } | undefined)?.stage;
      if (task) Object.assign(task, { percent: event.percent, stage });
      break;
    }
    case 'task.retrying':
      retries++;
      running.delete(event.taskId);
      break;
    case 'task.completed':
    case 'task.failed':
    case 'task.cancelled':
      running.delete(event.taskId);
      priorities.delete(event.taskId);
      break;
  }
});

// --- submit --------------------------------------------------------------------------------------------------
const inbox = generateInbox({ count: emailCount, seed });
try {
  // A message that is not even shaped like an email never reaches the queue: the zod schema rejects it.
  await triage.enqueue({ ...inbox[0]!.email, from: ['postmaster@acme.example'] } as never);
} catch (error) {
  if (!(error instanceof ValidationError)) throw error;
  say(`schema check: ${error.message} -> rejected at enqueue, nothing queued`);
}

const started = Date.now();
const runs = (await app.enqueueMany(
  inbox.map(({ email }) => ({ task: triage.name, input: email, options: { priority: priorityFor(email) } })),
)) as Array<TaskRun<StepResult>>;
const urgent = inbox.filter(({ email }) => priorityFor(email) === 'urgent');
say(
  `submitted ${runs.length} emails in one batch (${urgent.length} urgent from the boss, at positions ` +
    `${urgent.map((f) => inbox.indexOf(f) + 1).join(', ')})`,
);

const tally = { completed: 0, failed: 0 };
/** Follows one email's chain to its end, waiting on each step's result (event-driven, no polling). */
async function follow(fixture: FixtureEmail, first: TaskRun<StepResult>): Promise<Outcome> {
  let run = first;
  let step: string = triage.name;
  for (;;) {
    let result: StepResult;
    try {
      result = await run.result({ timeout: '2m' });
    } catch (error) {
      if (!(error instanceof TaskFailedError)) throw error;
      tally.failed++;
      return { state: 'failed', fixture, step, error: error.error, doneAfterMs: Date.now() - started };
    }
    if (!result.next) {
      tally.completed++;
      return { state: 'completed', fixture, record: result.record, doneAfterMs: Date.now() - started };
    }
    step = result.next.task;
    run = app.run<StepResult>(result.next.id);
  }
}

async function snapshot(): Promise<Snapshot> {
  const { counts } = (await app.stats()).total;
  return {
    elapsedMs: Date.now() - started,
    emails: { total: runs.length, ...tally },
    waiting: { queued: counts.queued, active: counts.active, retrying: counts.retrying, scheduled: counts.scheduled },
    finished: {
      completed: Math.max(0, counts.completed - baseline.completed),
      failed: Math.max(0, counts.failed - baseline.failed),
    },
    retries,
    // Highest priority first, then the longest running (a Map iterates in insertion order; sort is stable).
    running: [...running.values()].sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0)),
  };
}

const view = new LiveView(out, snapshot, { intervalMs: 200, plainEveryMs: 1000 });
ui.view = view;
view.start();
const outcomes = await Promise.all(inbox.map((fixture, i) => follow(fixture, runs[i]!)));
await view.stop();
const elapsed = Date.now() - started;

// --- report --------------------------------------------------------------------------------------------------
const stats = await app.stats();
say();
say('Stats (app.stats(); counts cover every task the broker retains, latencies the last minute):');
for (const line of statsTable(stats)) say(line);

say();
say('Priority: submission to end of chain, by the priority each email was enqueued with:');
const classes = ['urgent', 'high', 'normal', 'low'] as const;
const percentile = (values: number[], q: number) =>
  values.length === 0 ? null : [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)]!;
const rows = classes.map((priority) => {
  const times = outcomes.filter((o) => o.state === 'completed' && priorityFor(o.fixture.email) === priority).map((o) => o.doneAfterMs);
  return { priority, emails: times.length, p50: percentile(times, 0.5), p95: percentile(times, 0.95) };
});
for (const line of priorityTable(rows)) say(line);

say();
say('Sample results:');
const completed = outcomes.filter((o): o is Extract<Outcome, { state: 'completed' }> => o.state === 'completed');
const samples: Array<[string, Extract<Outcome, { state: 'completed' }> | undefined]> = [
  ['from the boss', completed.find((o) => o.fixture.kind === 'boss' && o.record.draft)],
  ['customer', completed.find((o) => o.fixture.kind === 'customer' && o.record.draft)],
  ['newsletter', completed.find((o) => o.fixture.kind === 'newsletter')],
  ['spam', completed.find((o) => o.fixture.kind === 'spam')],
];
for (const [label, outcome] of samples) if (outcome) for (const line of sampleLines(label, outcome.record)) say(line);
const failures = outcomes.filter((o): o is Extract<Outcome, { state: 'failed' }> => o.state === 'failed');
for (const failure of failures.slice(0, 3)) {
  for (const line of failureLines(`failed at ${failure.step}`, failure.fixture.email.subject, failure.error)) say(line);
}

const malformedFailed = failures.filter((o) => o.fixture.malformed).length;
const unexpected = failures.length - malformedFailed + completed.filter((o) => o.fixture.malformed).length;
say();
say(
  `batch: ${outcomes.length} emails in ${seconds(elapsed)} -> ${completed.length} triaged, ${failures.length} failed ` +
    `(${malformedFailed} malformed, as expected), ${unexpected} unexpected; ${retries} retries after transient errors`,
);

// --- serve or exit -------------------------------------------------------------------------------------------
if (once) {
  await worker.close();
  await app.close();
  process.exit(unexpected === 0 ? 0 : 1);
}
say();
say('worker running; press Ctrl+C to stop');
say(`  more mail: celeriac enqueue -A examples/inbox-triage/tasks.ts inbox.triage '{"messageId":…,"from":…}' --wait`);
app.on('*', (event) => {
  if (event.type === 'task.completed' || event.type === 'task.failed') {
    const time = new Date(event.timestamp).toISOString().slice(11, 23);
    const detail = event.type === 'task.failed' ? ` - ${event.error.type}: ${event.error.message}` : '';
    say(`${time} ${event.type === 'task.completed' ? 'done  ' : 'FAILED'} ${event.name} ${event.taskId}${detail}`);
  }
});
