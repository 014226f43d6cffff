// Bad input against a real redis-server: wrong password (of a server, of a sentinel), unreachable host, a
// port that is not Redis, and a task hash corrupted by hand. Each gives a clear error; nothing is lost; workers keep running.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { after, afterEach, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { toStoredId } from '../../src/brokers/redis/ids.js';
import { BrokerError, Celeriac } from '../../src/index.js';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startRedisSentinel } from '../support/redis-sentinel.js';

const silent = pino({ level: 'silent' });
const apps: Celeriac[] = [];
let server: RedisServer;
let secured: RedisServer;

before(async () => {
  [server, secured] = await Promise.all([startRedisServer(), startRedisServer({ args: ['--requirepass', 's3cret'] })]);
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close().catch(() => undefined)));
});

after(async () => {
  await Promise.all([server?.stop(), secured?.stop()]);
});

function openApp(url: string): Celeriac {
  const app = new Celeriac({ broker: url, logger: silent });
  apps.push(app);
  return app;
}

async function brokerError(url: string): Promise<BrokerError> {
  const app = openApp(url);
  const error = await app.enqueue('anything', {}).then(
    () => assert.fail('enqueue should have failed'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof BrokerError, `expected BrokerError, got ${String(error)}`);
  return error;
}

test('a wrong password is a clear BrokerError that does not print the password', async () => {
  const error = await brokerError(`redis://:wrong-password@127.0.0.1:${secured.port}`);
  assert.match(error.message, /pass|auth/i);
  assert.doesNotMatch(error.message, /wrong-password/);
  // The right one works.
  const app = openApp(`redis://:s3cret@127.0.0.1:${secured.port}?prefix=ok-${randomUUID().slice(0, 8)}`);
  const run = await app.enqueue('anything', {});
  assert.equal((await run.status()).state, 'queued');
});

test("a sentinel's missing or wrong password is a clear BrokerError that names the option and hides the password", async () => {
  const group = await startRedisSentinel({ sentinelPassword: 'sentinel-s3cret' });
  try {
    const missing = await brokerError(group.url);
    assert.match(missing.message, /the sentinels require a password \(NOAUTH\); add it to the URL: \?sentinelPassword=/);
    const wrong = await brokerError(`${group.url}?sentinelPassword=wrong-password`);
    assert.match(wrong.message, /authentication to the sentinels failed .*; check sentinelUsername and sentinelPassword/);
    assert.doesNotMatch(wrong.message, /wrong-password/);
    const app = openApp(`${group.url}?sentinelPassword=sentinel-s3cret&prefix=ok-${randomUUID().slice(0, 8)}`);
    assert.equal((await (await app.enqueue('anything', {})).status()).state, 'queued', 'the right one works');
  } finally {
    await Promise.all(apps.splice(0).map((app) => app.close().catch(() => undefined)));
    await group.stop();
  }
});

test('an unreachable host is a clear BrokerError naming the address', async () => {
  const port = await freePort();
  const error = await brokerError(`redis://127.0.0.1:${port}`);
  assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
});

test('a port that is not Redis is a clear BrokerError', async () => {
  const notRedis: Server = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise<void>((resolve) => notRedis.listen(0, '127.0.0.1', resolve));
  try {
    const port = (notRedis.address() as { port: number }).port;
    const error = await brokerError(`redis://127.0.0.1:${port}`);
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  } finally {
    notRedis.close();
  }
});

test('a task hash corrupted by hand fails that task clearly and the worker keeps running', async () => {
  const prefix = `bad-${randomUUID().slice(0, 8)}`;
  const url = `${server.url}?prefix=${prefix}`;
  const app = openApp(url);
  app.task({ name: 'ok', run: (input: { n: number }) => input.n + 1 });
  const corrupted = await app.enqueue('ok', { n: 1 });
  const redis = new Redis(server.port, '127.0.0.1');
  try {
    const key = `{${prefix}:default}:t:${toStoredId(corrupted.id)}`; // The id in its stored form (docs/redis.md).
    assert.equal(await redis.exists(key), 1, `expected the task hash at ${key}`);
    await redis.hset(key, 'input', '{not json');
  } finally {
    redis.disconnect();
  }
  const worker = app.worker({ concurrency: 2, handleSignals: false });
  await worker.start();
  await assert.rejects(corrupted.result({ timeout: '10s' }), /cannot be decoded/);
  const info = await corrupted.status();
  assert.equal(info.state, 'failed');
  assert.equal(info.attempts, 1);
  const healthy = await app.enqueue('ok', { n: 41 });
  assert.equal(await healthy.result({ timeout: '10s' }), 42);
});

test('an enqueue while Redis is down rejects with a BrokerError and leaves no unhandled rejection behind', async () => {
  const down = await startRedisServer();
  const app = openApp(`${down.url}?prefix=down-${randomUUID().slice(0, 8)}`);
  await app.broker(); // Connected; the queue is not registered yet, so the enqueue also sends SADD.
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await down.stop();
    await assert.rejects(app.enqueue('anything', {}), BrokerError);
    // Rejections are reported once the microtasks of a turn have run: let two turns pass.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
