// Opening a SQLite broker file while another connection holds a write lock on it (as when workers start
// together on a fresh machine and one of them is creating the file): switching a new file to WAL is
// then refused at once, without the busy wait, so the broker tries again until the lock is gone.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { openDatabase } from '../../src/brokers/sqlite/database.js';
import { tempDir } from '../support/tmp.js';

/** Holds a write lock (BEGIN IMMEDIATE) on a new file at `path` for `holdMs`, in a thread of its own. */
const LOCK_HOLDER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');
const db = new Database(workerData.path);
db.exec('BEGIN IMMEDIATE');
parentPort.postMessage('locked');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
db.exec('COMMIT');
db.close();
`;

describe('SQLite open', () => {
  it('opens a new file while another connection holds a write lock on it, once the lock is gone', async () => {
    const dir = tempDir('celeriac-open-');
    const path = join(dir.path, 'broker.db');
    const holder = new Worker(LOCK_HOLDER, { eval: true, workerData: { path, holdMs: 300 } });
    try {
      await new Promise((resolve, reject) => {
        holder.once('message', resolve);
        holder.once('error', reject);
      });
      // Before the retry this failed within milliseconds with "database is locked".
      const db = openDatabase(path);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.ok((db.pragma('user_version', { simple: true }) as number) > 0, 'migrated');
      db.close();
    } finally {
      await holder.terminate();
      dir.cleanup();
    }
  });
});
