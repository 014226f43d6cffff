// `celeriac revoke <id...>`: cancels tasks. Prints each outcome: cancelled (was waiting), requested
// (running; its worker aborts it through ctx.signal), finished (nothing to do) or not_found (exit 4).
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { withApp } from '../load-app.js';
import { printJsonLines, printLine } from '../output.js';
import { withCommonOptions, type CommonOptions, type Finish } from '../options.js';

interface RevokeFlags extends CommonOptions {
  reason?: string;
}

export function revokeCommand(program: Command, finish: Finish): void {
  const command = program
    .command('revoke')
    .description('cancel task(s): waiting ones at once, running ones through ctx.signal')
    .argument('<id...>', 'task id(s)')
    .option('--reason <text>', 'reason recorded on the task', 'revoked');
  withCommonOptions(command).action(async (ids: string[], flags: RevokeFlags) => finish(await revoke(ids, flags)));
}

async function revoke(ids: string[], flags: RevokeFlags): Promise<number> {
  return withApp(flags, async (app) => {
    const outcomes = [];
    for (const id of new Set(ids)) outcomes.push({ id, outcome: await app.cancel(id, flags.reason) });
    if (flags.json) printJsonLines(outcomes);
    else if (outcomes.length === 1) printLine(outcomes[0]!.outcome);
    else for (const { id, outcome } of outcomes) printLine(`${id}  ${outcome}`);
    return outcomes.some(({ outcome }) => outcome === 'not_found') ? ExitCode.NotFound : ExitCode.Ok;
  });
}
