// Exit codes scripts can rely on, the CliError that carries one, and the mapping from any thrown
// error to a code. Errors are recognised by their stable `name`, not `instanceof`: an app module may
// load its own copy of Celeriac (a local install, or the sources through tsx).

export const ExitCode = {
  /** Everything asked for succeeded. */
  Ok: 0,
  /** A task that was waited on (or read with `result`) failed or was cancelled. */
  TaskFailed: 1,
  /** Bad flags or arguments, bad JSON input, input rejected by the task's schema, bad app module. */
  Usage: 2,
  /** The broker URL cannot be used, or the broker cannot be opened, read or written. */
  Broker: 3,
  /** A task id that the broker does not know (never existed, or pruned after its retention). */
  NotFound: 4,
  /** A task had not finished when the wait ended (`--timeout` passed, or no `--wait`). */
  Timeout: 5,
  /** A bug: an error nobody anticipated (sysexits' EX_SOFTWARE). */
  Internal: 70,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one line, exiting with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, ExitCode.Usage);
}

export function notFoundError(message: string): CliError {
  return new CliError(message, ExitCode.NotFound);
}

const BY_NAME: Record<string, number> = {
  ValidationError: ExitCode.Usage,
  BrokerError: ExitCode.Broker,
  TimeoutError: ExitCode.Timeout,
  TaskFailedError: ExitCode.TaskFailed,
};

/** The exit code for anything thrown by a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  const name = error instanceof Error ? error.name : undefined;
  return (name === undefined ? undefined : BY_NAME[name]) ?? ExitCode.Internal;
}

/** The one line printed for an error, without the `celeriac: ` prefix. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return exitCodeFor(error) === ExitCode.Internal ? `unexpected error: ${message}` : message;
}

/** The worst of several outcomes' codes, for commands that act on many tasks. */
export function worstExitCode(codes: number[]): number {
  const order: number[] = [ExitCode.NotFound, ExitCode.Timeout, ExitCode.TaskFailed];
  return order.find((code) => codes.includes(code)) ?? ExitCode.Ok;
}
