import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ValidationError } from '../../src/index.js';
import { assertEnqueued, createTestApp, enqueued, runInline } from '../../src/testing/index.js';

describe('celeriac/testing', () => {
  it('runs a task inline with its input validated', async () => {
    const app = createTestApp();
    const add = app.task({ name: 'math.add', input: z.object({ a: z.number(), b: z.number() }), run: (input) => input.a + input.b });
    assert.equal(await runInline(add, { a: 1, b: 2 }), 3);
    await assert.rejects(runInline(add, { a: 1 } as never), ValidationError);
    await app.close();
  });

  it('asserts what was enqueued, and fails when it was not', async () => {
    const app = createTestApp();
    const send = app.task({ name: 'email.send', run: (_input: { to: string }) => undefined });
    await send.enqueue({ to: 'a@example.com' });
    await send.enqueue({ to: 'b@example.com' });
    const found = await assertEnqueued(app, 'email.send', { count: 1, where: (t) => (t.input as { to: string }).to === 'b@example.com' });
    assert.equal(found.length, 1);
    assert.equal((await enqueued(app, 'email.send')).length, 2);
    await assert.rejects(assertEnqueued(app, 'email.other'), /expected at least one enqueued 'email.other'/);
    await assert.rejects(assertEnqueued(app, 'email.send', { count: 3 }), /expected 3 enqueued 'email.send' task\(s\) matching, found 2/);
    await app.close();
  });

  it('gives every test app its own broker', async () => {
    const first = createTestApp();
    const second = createTestApp();
    await first.enqueue('anything', {});
    assert.equal((await enqueued(second, 'anything')).length, 0);
    await Promise.all([first.close(), second.close()]);
  });
});
