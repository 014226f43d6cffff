// Logging through pino: JSON by default, pretty on a terminal when asked for.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines instead of JSON; default: when stdout is a terminal. */
  pretty?: boolean;
}

/** The library's default: quiet (warnings and errors) unless CELERIAC_LOG_LEVEL says otherwise. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.CELERIAC_LOG_LEVEL ?? 'warn';
  const base = { name: 'celeriac' };
  if (options.pretty ?? false) {
    return pino({ level, base }, pretty({ colorize: true, ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l', sync: true }));
  }
  return pino({ level, base });
}
