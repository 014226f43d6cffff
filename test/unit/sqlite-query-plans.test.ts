// The SQLite broker's hot statements must stay index seeks, so they are O(log n) at any queue depth.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';

const dir = new URL('../../src/brokers/sqlite/', import.meta.url);
const sql = (name: string) => readFileSync(new URL(`sql/${name}.sql`, dir), 'utf8');

function plan(db: Database.Database, name: string, params: Record<string, unknown>): string {
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql(name)}`).all(params) as Array<{ detail: string }>;
  return rows.map((row) => row.detail).join('\n');
}

describe('SQLite query plans', () => {
  const db = new Database(':memory:');
  for (const file of readdirSync(new URL('migrations/', dir)).sort()) {
    db.exec(readFileSync(new URL(`migrations/${file}`, dir), 'utf8'));
  }
  const lease = { queue: 'q', limit: 50, workerId: 'w', leaseExpiresAt: 1, now: 1 };

  const cases: Array<[statement: string, params: Record<string, unknown>, index: string]> = [
    ['lease_next', lease, 'tasks_ready'],
    ['next_ready', { queue: 'q', limit: 50 }, 'tasks_ready'],
    ['has_ready', { queue: 'q' }, 'tasks_ready'],
    ['due_tasks', { now: 1, limit: 10 }, 'tasks_due'],
    ['next_due_at', {}, 'tasks_due'],
    ['expired_leases', { now: 1, limit: 10 }, 'tasks_leases'],
    ['has_expired_lease', { now: 1 }, 'tasks_leases'],
    ['expired_queued', { now: 1, error: '{}' }, 'tasks_expiring'],
    ['has_expired_queued', { now: 1 }, 'tasks_expiring'],
    ['find_by_key', { queue: 'q', key: 'k' }, 'tasks_key'],
    ['finished_since', { since: 1, limit: 10 }, 'tasks_finished'],
  ];

  for (const [statement, params, index] of cases) {
    it(`${statement} seeks ${index} and never scans or sorts the table`, () => {
      const detail = plan(db, statement, params);
      assert.match(detail, new RegExp(`INDEX ${index}\\b`), detail);
      assert.doesNotMatch(detail, /SCAN tasks(?! USING)/, detail);
      assert.doesNotMatch(detail, /TEMP B-TREE/, detail);
    });
  }

  it('finished_counts counts from the covering finished index, grouping only the queues in a temporary tree', () => {
    const detail = plan(db, 'finished_counts', { since: 1 });
    assert.match(detail, /SEARCH tasks USING COVERING INDEX tasks_finished \(finished_at>\?\)/, detail);
    assert.doesNotMatch(detail, /SCAN tasks/, detail);
  });

  it('settling an attempt updates one row by primary key', () => {
    const detail = plan(db, 'complete_task', { id: 'x', workerId: 'w', now: 1, attempt: 1, result: 'null' });
    assert.match(detail, /sqlite_autoindex_tasks_1|PRIMARY KEY|INDEX/, detail);
    assert.doesNotMatch(detail, /SCAN tasks(?! USING)/, detail);
  });
});
