// `celeriac status <id...>`: a task as stored now (TaskInfo), as fields or JSON.
import type { Command } from 'commander';
import type { TaskInfo } from '../../index.js';
import { ExitCode } from '../exit-codes.js';
import { withApp } from '../load-app.js';
import { compactJson, isoTime, note, printFields, printJson, printJsonLines, printLine } from '../output.js';
import { withCommonOptions, type CommonOptions, type Finish } from '../options.js';

export function statusCommand(program: Command, finish: Finish): void {
  const command = program
    .command('status')
    .description("show a task's state, progress, result or error")
    .argument('<id...>', 'task id(s)');
  withCommonOptions(command).action(async (ids: string[], flags: CommonOptions) => finish(await status(ids, flags)));
}

async function status(ids: string[], flags: CommonOptions): Promise<number> {
  return withApp(flags, async (app) => {
    const infos = await Promise.all(ids.map((id) => app.getTask(id)));
    infos.forEach((info, i) => {
      if (!info) note(`task ${ids[i]} not found`);
    });
    const found = infos.filter((info): info is TaskInfo => info !== null);
    if (flags.json) {
      if (ids.length === 1 && found[0]) printJson(found[0]);
      else printJsonLines(found);
    } else {
      found.forEach((info, i) => {
        if (i > 0) printLine();
        printFields(fields(info, flags.verbose));
      });
    }
    return found.length === ids.length ? ExitCode.Ok : ExitCode.NotFound;
  });
}

function fields(info: TaskInfo, verbose = false): Array<[string, string | number | undefined]> {
  const progress = info.progress ? `${info.progress.percent}%${info.progress.meta === undefined ? '' : ` ${compactJson(info.progress.meta)}`}` : undefined;
  return [
    ['id', info.id],
    ['name', info.name],
    ['state', info.state],
    ['queue', info.queue],
    ['priority', info.priority],
    ['attempts', `${info.attempts} of ${info.maxRetries + 1}`],
    ['progress', progress],
    ['input', info.input === undefined ? undefined : compactJson(info.input, 200)],
    ['result', info.state === 'completed' ? compactJson(info.result ?? null, 200) : undefined],
    ['error', info.error ? `${info.error.type}: ${info.error.message}` : undefined],
    ['stack', verbose ? info.error?.stack : undefined],
    ['worker', info.workerId],
    ['key', info.key],
    ['created', isoTime(info.createdAt)],
    ['scheduled for', isoTime(info.scheduledFor)],
    ['started', isoTime(info.startedAt)],
    ['finished', isoTime(info.finishedAt)],
    ['expires', isoTime(info.expiresAt)],
  ];
}
