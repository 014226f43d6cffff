import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newTaskId } from '../../src/ids.js';

describe('task ids', () => {
  it('are unique UUIDv7 strings that sort in creation order', () => {
    const ids = Array.from({ length: 20_000 }, () => newTaskId());
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual([...ids].sort(), ids);
  });

  it('carry the creation time in their first 48 bits', () => {
    const before = Date.now();
    const id = newTaskId();
    const ms = Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    assert.ok(ms >= before && ms <= Date.now() + 5, `timestamp ${ms} not near ${before}`);
  });
});
