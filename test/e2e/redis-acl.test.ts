// ACL users on a real redis-server: a user limited to its prefix's keys and channels, with every command
// but the dangerous ones and INFO, runs tasks (docs/redis.md, "ACL users"); a user missing INFO, a key
// pattern or the channels gets a BrokerError that says what is wrong and points to the docs.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { BrokerError, Celeriac } from '../../src/index.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const silent = pino({ level: 'silent' });
let server: RedisServer;
let admin: Redis;

before(async () => {
  server = await startRedisServer();
  admin = new Redis(server.port);
});

after(async () => {
  admin.disconnect();
  await server.stop();
});

/** A new ACL user with `rules` (after `reset on >password`), and an app of prefix `prefix` signed in as it. */
async function appAs(prefix: string, rules: string): Promise<Celeriac> {
  const user = `app-${randomUUID().slice(0, 8)}`;
  await admin.call('ACL', 'SETUSER', user, 'reset', 'on', '>s3cret', ...rules.replaceAll('P', prefix).split(' '));
  return new Celeriac({ broker: `redis://${user}:s3cret@127.0.0.1:${server.port}?prefix=${prefix}`, logger: silent });
}

const DOCUMENTED = '~{P:* ~{P}:* &P:* +@all -@dangerous +info';

test('the documented ACL user runs tasks: single, bulk, delayed and cancelled, with stats', async () => {
  const prefix = `acl${randomUUID().slice(0, 6)}`;
  const app = await appAs(prefix, DOCUMENTED);
  app.task({ name: 'double', run: (input: { n: number }) => input.n * 2 });
  const worker = app.worker({ handleSignals: false });
  try {
    await worker.start();
    assert.equal(await (await app.enqueue('double', { n: 21 })).result({ timeout: '10s' }), 42);
    const many = await app.enqueueMany([1, 2, 3].map((n) => ({ task: 'double', input: { n } })));
    assert.deepEqual(await Promise.all(many.map((run) => run.result({ timeout: '10s' }))), [2, 4, 6]);
    assert.equal(await (await app.enqueue('double', { n: 1 }, { delay: '1h' })).cancel(), 'cancelled');
    assert.equal((await app.stats()).total.counts.completed, 4);
  } finally {
    await worker.close();
    await app.close();
  }
});

for (const [missing, rules, says] of [
  ['INFO', '~{P:* ~{P}:* &P:* +@all -@dangerous', /may not do something the broker needs \(NOPERM.*'info'/],
  ['the prefix-wide keys', '~{P:* &P:* +@all -@dangerous +info', /NOPERM.*keys/],
  ['the channels', '~{P:* ~{P}:* +@all -@dangerous +info', /can't publish to the channel/],
] as const) {
  test(`a user without ${missing} gets a BrokerError that says so`, async () => {
    const prefix = `acl${randomUUID().slice(0, 6)}`;
    const app = await appAs(prefix, rules);
    app.task({ name: 'double', run: (input: { n: number }) => input.n * 2 });
    const worker = app.worker({ handleSignals: false });
    try {
      const error = await worker
        .start()
        .then(() => app.enqueue('double', { n: 1 }))
        .then((run) => run.result({ timeout: '10s' }))
        .then(
          () => assert.fail('should have failed'),
          (caught: unknown) => caught,
        );
      assert.ok(error instanceof BrokerError, `expected a BrokerError, got ${String(error)}`);
      assert.match(error.message, says);
      assert.match(error.message, /docs\/redis\.md, "ACL users"/);
    } finally {
      await worker.close().catch(() => undefined);
      await app.close().catch(() => undefined);
    }
  });
}
