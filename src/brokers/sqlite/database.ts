// Opens a SQLite database for the broker: WAL, pragmas, schema migrations and prepared statements.
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BrokerError } from '../../errors.js';

export type Db = Database.Database;
type Row = Record<string, unknown>;
export type Statement = Database.Statement<unknown[], Row>;

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
const SQL_DIR = new URL('./sql/', import.meta.url);

/** `sqlite:<path>` or `sqlite::memory:` to a file path or `:memory:`. */
export function parseSqliteUrl(url: string): string {
  const rest = url.replace(/^sqlite:(\/\/)?/, '');
  if (rest === '') throw new BrokerError(`broker URL '${url}' names no database file (try sqlite:.celeriac/celeriac.db)`);
  return rest === ':memory:' ? ':memory:' : resolve(rest);
}

export function openDatabase(path: string): Db {
  let db: Db | undefined;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    // A blocked write stalls this process's event loop (better-sqlite3 is synchronous): keep the wait
    // well under a lease's renewal margin.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    enableWal(db);
    db.pragma('synchronous = NORMAL');
    db.pragma('temp_store = MEMORY');
    db.pragma('cache_size = -65536');
    migrate(db);
  } catch (error) {
    db?.close(); // Opened but unusable (not a database, read-only, newer schema): do not leak the handle.
    const reason = error instanceof Error ? error.message : String(error);
    throw new BrokerError(`cannot open SQLite broker at ${path}: ${reason}`);
  }
  return db;
}

const BUSY_TIMEOUT_MS = 5_000;
const WAL_RETRY_MS = 10;

/**
 * Switches the database to WAL. On a new file that several processes open at once (two workers
 * starting), all but one find the switch locked and SQLite answers SQLITE_BUSY at once rather than
 * waiting (it would be a deadlock): try again shortly, for as long as a busy wait lasts.
 */
function enableWal(db: Db): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, WAL_RETRY_MS);
    }
  }
}

/** Applies every migration newer than the database's `user_version`, each in its own transaction. */
function migrate(db: Db): void {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((file) => /^\d+_.+\.sql$/.test(file))
    .sort();
  const apply = db.transaction((version: number, sql: string) => {
    // Re-read under the write lock: another process may have migrated meanwhile.
    if ((db.pragma('user_version', { simple: true }) as number) >= version) return;
    db.exec(sql);
    db.pragma(`user_version = ${version}`);
  });
  for (const file of files) {
    const version = Number.parseInt(file, 10);
    if ((db.pragma('user_version', { simple: true }) as number) >= version) continue;
    apply.immediate(version, readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8'));
  }
  const current = db.pragma('user_version', { simple: true }) as number;
  const known = files.length ? Number.parseInt(files[files.length - 1]!, 10) : 0;
  if (current > known) {
    throw new Error(`database schema version ${current} is newer than this Celeriac knows (${known}); upgrade Celeriac`);
  }
}

/** Prepared statements, one per file in ./sql, prepared on first use. */
export class Statements {
  private readonly cache = new Map<string, Statement>();
  constructor(private readonly db: Db) {}

  get(name: string): Statement {
    let statement = this.cache.get(name);
    if (!statement) {
      const text = readFileSync(new URL(`${name}.sql`, SQL_DIR), 'utf8');
      statement = this.db.prepare(text) as Statement;
      this.cache.set(name, statement);
    }
    return statement;
  }
}
