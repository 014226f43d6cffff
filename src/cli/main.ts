// The `celeriac` command line: builds the commander program from the commands in ./commands, runs
// it, and turns every outcome into one exit code (see ./exit-codes.ts) and at most one error line.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { enqueueCommand } from './commands/enqueue.js';
import { inspectCommand } from './commands/inspect.js';
import { purgeCommand } from './commands/purge.js';
import { resultCommand } from './commands/result.js';
import { revokeCommand } from './commands/revoke.js';
import { statusCommand } from './commands/status.js';
import { workerCommand } from './commands/worker.js';
import { describeError, ExitCode, exitCodeFor } from './exit-codes.js';
import { isVerbose, type Finish } from './options.js';

/** How long a finished command may take to let go of its handles before it is made to exit. */
const EXIT_GRACE_MS = 2_000;

export function buildProgram(finish: Finish): Command {
  const program = new Command('celeriac')
    .description('Celeriac: a distributed task queue for TypeScript')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`celeriac: ${text.replace(/^error: /, '')}`) });
  for (const add of [workerCommand, enqueueCommand, statusCommand, resultCommand, revokeCommand, inspectCommand, purgeCommand]) {
    add(program, finish);
  }
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function run(argv: string[] = process.argv): Promise<number> {
  let code: number = ExitCode.Ok;
  const program = buildProgram((result) => (code = result));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    return reportError(error, isVerbose({ verbose: argv.includes('--verbose') }));
  }
}

function reportError(error: unknown, verbose: boolean): number {
  process.stderr.write(`celeriac: ${describeError(error)}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else if (exitCodeFor(error) === ExitCode.Internal) process.stderr.write('celeriac: run with --verbose (or CELERIAC_DEBUG=1) for the stack trace\n');
  return exitCodeFor(error);
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Entry point for bin/celeriac.js: run, then exit with the code once output is flushed. */
export async function main(): Promise<void> {
  const code = await run();
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}
