// What the SQLite broker's operation modules share: the connection, its statements and the event log.
import type { Db, Statements } from './database.js';
import type { EventLog } from './event-log.js';

export interface SqliteContext {
  db: Db;
  statements: Statements;
  events: EventLog;
}

/** Reserves `count` FIFO positions and returns the first. */
export function reserveSeq(ctx: SqliteContext, count: number): number {
  const last = ctx.statements.get('next_seq').get({ count })!.value as number;
  return last - count + 1;
}

export const CANCELLED_TYPE = 'TaskCancelledError';
