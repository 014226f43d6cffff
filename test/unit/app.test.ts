import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerError, Celeriac } from '../../src/index.js';
import { createTestApp } from '../../src/testing/index.js';

describe('the app', () => {
  it('refuses a second task with the same name, and bad defaults at definition', () => {
    const app = createTestApp();
    app.task({ name: 'x', run: () => 1 });
    assert.throws(() => app.task({ name: 'x', run: () => 2 }), /already registered/);
    assert.throws(() => app.task({ name: 'y', priority: 99, run: () => 1 }), /priority must be an integer/);
    assert.throws(() => app.task({ name: '', run: () => 1 }), /non-empty string name/);
    assert.deepEqual(app.registeredTasks(), ['x']);
  });

  it('names the broker URL it could not use, and what is accepted', async () => {
    const app = new Celeriac({ broker: 'nonsense://x' });
    await assert.rejects(app.enqueue('t', {}), (error: Error) => {
      assert.ok(error instanceof BrokerError);
      assert.match(error.message, /unsupported broker URL 'nonsense:\/\/x'.*sqlite:<path>/);
      return true;
    });
  });

  it('rejects bad enqueue options without storing anything', async () => {
    const app = createTestApp();
    await assert.rejects(app.enqueue('t', {}, { delay: 'soon' }), /delay must look like/);
    await assert.rejects(app.enqueue('t', {}, { priority: -1 }), /priority must be an integer/);
    assert.equal((await app.listTasks()).length, 0);
    await app.close();
  });

  it('rejects input that cannot be stored as JSON, storing nothing', async () => {
    const app = createTestApp();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await assert.rejects(app.enqueueMany([{ task: 'ok', input: 1 }, { task: 't', input: circular }]), BrokerError);
    assert.equal((await app.listTasks()).length, 0);
    await app.close();
  });
});
