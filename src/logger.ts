// Logging through pino: JSON by default, pretty on a terminal when asked for.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

// pino-pretty is loaded only when pretty output is asked for: it is large, and processes that log
// JSON (every worker not on a terminal) should not pay for it.
const require = createRequire(import.meta.url);

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
    const pretty = require('pino-pretty') as typeof PinoPretty;
    return pino({ level, base }, pretty({ colorize: true, ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l', sync: true }));
  }
  return pino({ level, base });
}
