// `celeriac purge [queue] --yes`: deletes waiting tasks (queued, scheduled, retrying) of one queue or
// of all. Running tasks are not touched. Refuses without --yes (exit 2).
import type { Command } from 'commander';
import { ExitCode, usageError } from '../exit-codes.js';
import { withApp } from '../load-app.js';
import { printJson, printLine } from '../output.js';
import { withCommonOptions, type CommonOptions, type Finish } from '../options.js';

interface PurgeFlags extends CommonOptions {
  yes?: boolean;
}

export function purgeCommand(program: Command, finish: Finish): void {
  const command = program
    .command('purge')
    .description('delete waiting tasks of a queue (or of every queue); needs --yes')
    .argument('[queue]', 'queue to purge (default: every queue)')
    .option('-y, --yes', 'really delete them');
  withCommonOptions(command).action(async (queue: string | undefined, flags: PurgeFlags) => finish(await purge(queue, flags)));
}

async function purge(queue: string | undefined, flags: PurgeFlags): Promise<number> {
  const scope = queue === undefined ? 'every queue' : `queue '${queue}'`;
  if (!flags.yes) throw usageError(`purge deletes the waiting tasks of ${scope}; add --yes to confirm`);
  return withApp(flags, async (app) => {
    const purged = await app.purge(queue);
    if (flags.json) printJson({ purged, queue: queue ?? null });
    else printLine(`purged ${purged} waiting task${purged === 1 ? '' : 's'} from ${scope}`);
    return ExitCode.Ok;
  });
}
