import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toMs } from '../../src/duration.js';

describe('durations', () => {
  it('reads milliseconds and unit strings', () => {
    assert.equal(toMs(250), 250);
    assert.equal(toMs('250ms'), 250);
    assert.equal(toMs('30s'), 30_000);
    assert.equal(toMs('10m'), 600_000);
    assert.equal(toMs('1h'), 3_600_000);
    assert.equal(toMs('1d'), 86_400_000);
    assert.equal(toMs('1.5s'), 1_500);
  });

  it('rejects nonsense with a message that names the field', () => {
    assert.throws(() => toMs('soon', 'delay'), /delay must look like/);
    assert.throws(() => toMs(-1, 'delay'), /delay must be a non-negative/);
  });
});
