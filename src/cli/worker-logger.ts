// The worker command's logger: pretty lines on a terminal, JSON lines otherwise (or as --log-format
// says), written synchronously so nothing is lost at exit, and kept clear of the live status line.
import { destination, pino } from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from '../index.js';
import type { LiveStatus } from './live-status.js';

export type LogFormat = 'auto' | 'json' | 'pretty';

export function createWorkerLogger(options: { level: string; format: LogFormat; status: LiveStatus }): Logger {
  const { level, format, status } = options;
  const base = { name: 'celeriac' };
  const usePretty = format === 'pretty' || (format === 'auto' && Boolean(process.stdout.isTTY));
  const sharesTerminal = status.enabled && Boolean(process.stdout.isTTY);
  if (usePretty) {
    const target = sharesTerminal ? status.wrap(process.stdout) : 1;
    return pino({ level, base }, pretty({ colorize: Boolean(process.stdout.isTTY), ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l', singleLine: true, sync: true, destination: target }));
  }
  return pino({ level, base }, sharesTerminal ? status.wrap(process.stdout) : destination({ dest: 1, sync: true }));
}
