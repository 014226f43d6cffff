// The SQLite schema is versioned: a new file is migrated once, by one process, and a database from a
// newer Celeriac is refused with a clear error instead of being misread.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { BrokerError, connectBroker } from '../../src/index.js';
import { newTaskId } from '../../src/ids.js';
import { newTask } from '../conformance/suite/records.js';
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
      assert.equal(db.pragma('user_version', { simple: true }), 2);
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
        assert.match(error.message, /schema version 99 is newer than this Celeriac knows \(2\)/);
        return true;
      });
    } finally {
      dir.cleanup();
    }
  });

  it('migrates a version 1 database to keys per queue, keeping its unfinished keyed tasks', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'v1.db');
      const db = new Database(path);
      db.exec(readFileSync(new URL('../../src/brokers/sqlite/migrations/001_init.sql', import.meta.url), 'utf8'));
      db.pragma('user_version = 1');
      const held = newTaskId();
      db.prepare(
        `INSERT INTO tasks (id, name, queue, state, priority, seq, input, execution, max_retries, created_at, ready_at, idem_key)
         VALUES (?, 'v1.task', 'a', 'queued', 5, 1, '{}', '{}', 0, 1, 1, 'invoice-9')`,
      ).run(held);
      db.close();

      const broker = await connectBroker(`sqlite:${path}`);
      try {
        const [sameQueue, otherQueue] = await broker.enqueue([
          newTask({ queue: 'a', key: 'invoice-9' }),
          newTask({ queue: 'b', key: 'invoice-9' }),
        ]);
        assert.deepEqual(sameQueue, { id: held, created: false, state: 'queued' }, 'the key still holds in its queue');
        assert.equal(otherQueue?.created, true, 'and is free in another');
      } finally {
        await broker.close();
      }
      const after = new Database(path);
      assert.equal(after.pragma('user_version', { simple: true }), 2);
      // The migrated database enforces one unfinished task per queue and key itself (what keeps two
      // processes enqueueing at once from both storing one), and allows the key in another queue.
      const insert = after.prepare(
        `INSERT INTO tasks (id, name, queue, state, priority, seq, input, execution, max_retries, created_at, ready_at, idem_key)
         VALUES (?, 'v1.task', ?, 'queued', 5, 9, '{}', '{}', 0, 1, 1, 'invoice-9')`,
      );
      assert.throws(() => insert.run(newTaskId(), 'a'), /UNIQUE constraint failed/);
      assert.doesNotThrow(() => insert.run(newTaskId(), 'c'));
      after.close();
    } finally {
      dir.cleanup();
    }
  });
});
