// The SQLite schema is versioned: a new file is migrated once, by one process, and a database from a
// newer Celeriac is refused with a clear error instead of being misread.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BrokerError, connectBroker } from '../../src/index.js';
import { tempDir } from '../support/tmp.js';

describe('SQLite schema migrations', () => {
  it('creates the schema on first open and leaves it alone on the next', async () => {
    const dir = tempDir();
    try {
      const url = `sqlite:${join(dir.path, 'jobs.db')}`;
      const first = await connectBroker(url);
      await first.enqueue([]);
      await first.close();
      const second = await connectBroker(url);
      await second.close();
      const db = new Database(join(dir.path, 'jobs.db'));
      assert.equal(db.pragma('user_version', { simple: true }), 1);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      db.close();
    } finally {
      dir.cleanup();
    }
  });

  it('refuses a database written by a newer Celeriac', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'future.db');
      const db = new Database(path);
      db.pragma('user_version = 99');
      db.close();
      await assert.rejects(connectBroker(`sqlite:${path}`), (error: Error) => {
        assert.ok(error instanceof BrokerError);
        assert.match(error.message, /schema version 99 is newer than this Celeriac knows \(1\)/);
        return true;
      });
    } finally {
      dir.cleanup();
    }
  });
});
