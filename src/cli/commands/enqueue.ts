// `celeriac enqueue <task> [json]`: stores one or many tasks by name (validated against the task's
// schema when -A names the app that defines it), prints their ids, and with --wait their results.
import { Argument, type Command } from 'commander';
import type { Celeriac, EnqueueOptions, Priority, TaskRun } from '../../index.js';
import { toMs } from '../../index.js';
import { ExitCode, usageError } from '../exit-codes.js';
import { readInputs } from '../inputs.js';
import { withApp } from '../load-app.js';
import { note, printJsonLines, printLine } from '../output.js';
import { parseDate, parseDuration, parsePositiveInt, parsePriority, withCommonOptions, type CommonOptions, type Finish } from '../options.js';
import { reportOutcomes, waitForTasks } from '../results.js';

interface EnqueueFlags extends CommonOptions {
  queue?: string;
  priority?: Priority;
  delay?: string;
  eta?: Date;
  expires?: string;
  key?: string;
  count?: number;
  each?: boolean;
  wait?: boolean;
  timeout?: string;
}

export function enqueueCommand(program: Command, finish: Finish): void {
  const command = program
    .command('enqueue')
    .description('enqueue a task by name; prints its id (with --wait, its result)')
    .argument('<task>', 'task name, e.g. agent.summarize')
    .addArgument(new Argument('[json]', "the input as JSON, or - to read JSON lines (one task each) from stdin"))
    .option('-q, --queue <queue>', "queue (default: the task's, else 'default')")
    .option('-p, --priority <priority>', 'low|normal|high|urgent or 0..15', parsePriority)
    .option('--delay <duration>', 'run no earlier than this from now (500ms, 10s, 5m, 1h, 1d)', parseDuration)
    .option('--eta <date>', 'run no earlier than this ISO 8601 time', parseDate)
    .option('--expires <duration>', 'cancel it (reason expired) if not started within this', parseDuration)
    .option('-k, --key <key>', 'idempotency key: returns the unfinished task of the queue with this key instead of a new one')
    .option('--count <n>', 'enqueue N tasks with this input', parsePositiveInt)
    .option('--each', 'the input is a JSON array: one task per element')
    .option('-w, --wait', 'wait for the task(s) to finish and print the result(s)')
    .option('-t, --timeout <duration>', 'give up waiting after this (implies --wait; exit 5)', parseDuration);
  withCommonOptions(command).action(async (task: string, json: string | undefined, flags: EnqueueFlags) => finish(await enqueue(task, json, flags)));
}

async function enqueue(task: string, json: string | undefined, flags: EnqueueFlags): Promise<number> {
  const inputs = await readInputs(json, flags);
  if (flags.key !== undefined && inputs.length > 1) throw usageError('--key applies to a single task; drop --count / many inputs');
  if (flags.delay !== undefined && flags.eta !== undefined) throw usageError('give --delay or --eta, not both');
  const options = enqueueOptions(flags);
  return withApp(flags, async (app, loaded) => {
    if (loaded.module && !app.registeredTasks().includes(task)) {
      note(`warning: '${task}' is not registered in ${loaded.module}; it fails unless a worker knows it`);
    }
    const runs = await store(app, inputs.map((input) => ({ task, input, options })));
    const wait = flags.wait || flags.timeout !== undefined;
    if (!wait) return printRuns(runs, task, flags);
    const outcomes = await waitForTasks(app, runs.map((run) => run.id), flags.timeout === undefined ? undefined : toMs(flags.timeout));
    return reportOutcomes(outcomes, { json: flags.json, waited: true });
  });
}

function enqueueOptions(flags: EnqueueFlags): EnqueueOptions {
  const options: EnqueueOptions = {};
  if (flags.queue !== undefined) options.queue = flags.queue;
  if (flags.priority !== undefined) options.priority = flags.priority;
  if (flags.delay !== undefined) options.delay = flags.delay;
  if (flags.eta !== undefined) options.eta = flags.eta;
  if (flags.expires !== undefined) options.expires = flags.expires;
  if (flags.key !== undefined) options.key = flags.key;
  return options;
}

/** All in one transaction: a schema failure on any input leaves nothing queued. */
async function store(app: Celeriac, items: Parameters<Celeriac['enqueueMany']>[0]): Promise<TaskRun[]> {
  try {
    return await app.enqueueMany(items);
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'RangeError' || name === 'TypeError') throw usageError((error as Error).message);
    throw error;
  }
}

function printRuns(runs: TaskRun[], task: string, flags: EnqueueFlags): number {
  if (flags.json) {
    printJsonLines(runs.map((run) => ({ id: run.id, name: task, created: run.created })));
  } else {
    for (const run of runs) printLine(run.id);
    if (runs.length === 1 && !runs[0]!.created) note(`an unfinished task with key '${flags.key}' exists in this queue; that is its id`);
  }
  return ExitCode.Ok;
}
