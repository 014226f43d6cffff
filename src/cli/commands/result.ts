// `celeriac result <id...> [--wait] [--timeout 30s]`: prints the result of finished tasks; with
// --wait, waits for them first (a progress bar on a terminal when there are many).
import type { Command } from 'commander';
import { toMs } from '../../index.js';
import { withApp } from '../load-app.js';
import { parseDuration, withCommonOptions, type CommonOptions, type Finish } from '../options.js';
import { reportOutcomes, waitForTasks } from '../results.js';

interface ResultFlags extends CommonOptions {
  wait?: boolean;
  timeout?: string;
}

export function resultCommand(program: Command, finish: Finish): void {
  const command = program
    .command('result')
    .description('print the result of finished task(s); exit 1 if one failed, 5 if one has not finished')
    .argument('<id...>', 'task id(s)')
    .option('-w, --wait', 'wait for the task(s) to finish')
    .option('-t, --timeout <duration>', 'give up waiting after this (implies --wait; exit 5)', parseDuration);
  withCommonOptions(command).action(async (ids: string[], flags: ResultFlags) => finish(await result(ids, flags)));
}

async function result(ids: string[], flags: ResultFlags): Promise<number> {
  const waited = Boolean(flags.wait) || flags.timeout !== undefined;
  const timeoutMs = flags.timeout !== undefined ? toMs(flags.timeout) : waited ? undefined : 0;
  return withApp(flags, async (app) => {
    const outcomes = await waitForTasks(app, [...new Set(ids)], timeoutMs);
    return reportOutcomes(outcomes, { json: flags.json, waited });
  });
}
