// When a Sentinel watch moves the broker's connections (sentinel-watch.ts): on a switch it had not heard
// yet, and on a sentinel's answer naming another master than the one it knew, unless that answer may be
// older than a switch it heard meanwhile.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KnownMaster } from '../../src/brokers/redis/sentinel-watch.js';

test('the first answer only tells which master it is; a later answer naming another one moves the connections', () => {
  const known = new KnownMaster();
  assert.equal(known.answered('10.0.0.1 6379', known.ticket()), false);
  assert.equal(known.answered('10.0.0.1 6379', known.ticket()), false, 'the same master');
  assert.equal(known.answered('10.0.0.2 6379', known.ticket()), true, 'a switch missed while the watch was down');
  assert.equal(known.answered('10.0.0.2 6379', known.ticket()), false);
});

test('a switch moves the connections once, however many sentinels announce it, even before any answer', () => {
  const known = new KnownMaster();
  assert.equal(known.announced('10.0.0.2 6379'), true);
  assert.equal(known.announced('10.0.0.2 6379'), false, 'the second sentinel announcing it');
  assert.equal(known.announced('10.0.0.1 6379'), true, 'and back');
});

test('an answer to a question asked before a switch was heard is not taken for a newer master', () => {
  const known = new KnownMaster();
  known.answered('10.0.0.1 6379', known.ticket());
  const asked = known.ticket();
  assert.equal(known.announced('10.0.0.2 6379'), true);
  assert.equal(known.answered('10.0.0.1 6379', asked), false, 'stale: it named the old master');
  assert.equal(known.answered('10.0.0.2 6379', known.ticket()), false, 'the master known is still the new one');
});
