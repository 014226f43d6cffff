// Flags shared by every command (--broker, -A, --json, --verbose) and the parsers that turn flag
// strings into values, failing with a usage error (exit 2) naming the flag.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { toMs } from '../index.js';

/** What every command receives besides its own flags. */
export interface CommonOptions {
  broker?: string;
  app?: string;
  json?: boolean;
  verbose?: boolean;
}

/** Adds the flags every command takes. `json` is false for commands that print no data. */
export function withCommonOptions(command: Command, { json = true } = {}): Command {
  command
    .option('-b, --broker <url>', 'broker URL (default: $CELERIAC_BROKER_URL, else sqlite:.celeriac/celeriac.db)')
    .addOption(new Option('-A, --app <module>', 'a .ts or .js file exporting `app` (or module:export)').env('CELERIAC_APP'))
    .option('--verbose', 'print stack traces with errors (also: CELERIAC_DEBUG=1)');
  if (json) command.option('--json', 'print JSON (one object per line for per-task output)');
  return command;
}

/** A duration flag: milliseconds or '250ms', '30s', '10m', '1h', '1d'. Kept as written, checked now. */
export function parseDuration(value: string): string {
  try {
    toMs(value);
  } catch {
    throw new InvalidArgumentError(`expected a duration such as 500ms, 30s, 10m, 1h or 1d`);
  }
  return value;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('expected a positive integer');
  }
  return n;
}

export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('expected a non-negative integer');
  }
  return n;
}

const PRIORITY_NAMES = ['low', 'normal', 'high', 'urgent'];

/** `low|normal|high|urgent` or an integer 0..15. */
export function parsePriority(value: string): string | number {
  if (PRIORITY_NAMES.includes(value)) return value;
  const n = Number(value);
  if (/^\d+$/.test(value) && n >= 0 && n <= 15) return n;
  throw new InvalidArgumentError('expected low, normal, high, urgent or an integer from 0 to 15');
}

/** A comma-separated list, e.g. `-Q agents,default`; repeated flags add up. */
export function parseList(value: string, previous: string[] = []): string[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list');
  return [...previous, ...items];
}

/** An ISO 8601 date-time, e.g. 2030-01-01T09:00:00Z. */
export function parseDate(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('expected an ISO 8601 date, e.g. 2030-01-01T09:00:00Z');
  return date;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const LEVEL_ALIASES: Record<string, string> = { warning: 'warn', critical: 'fatal' };

/** A pino level; Celery's spellings (INFO, WARNING, CRITICAL) are accepted too. */
export function parseLogLevel(value: string): string {
  const lower = value.toLowerCase();
  const level = LEVEL_ALIASES[lower] ?? lower;
  if (!LEVELS.includes(level)) throw new InvalidArgumentError(`expected one of ${LEVELS.join(', ')}`);
  return level;
}

/** Whether stack traces go with error lines. */
export function isVerbose(options: { verbose?: boolean }): boolean {
  const debug = process.env.CELERIAC_DEBUG;
  return Boolean(options.verbose) || (debug !== undefined && debug !== '' && debug !== '0');
}

/** Receives the exit code a command's action ends with. */
export type Finish = (code: number) => void;
