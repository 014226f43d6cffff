// ioredis listens to a socket's 'error' with once(): a second error on the same socket has no listener,
// which Node turns into an uncaught exception (a TLS handshake refused, then the server's alert, did
// that in a test). The broker's connectors keep a listener on every socket they open.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { GuardedStandaloneConnector } from '../../src/brokers/redis/guarded-connectors.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

async function connected(options: { guarded: boolean }): Promise<Redis> {
  const client = new Redis({
    port: server.port,
    lazyConnect: true,
    retryStrategy: () => null,
    ...(options.guarded ? { Connector: GuardedStandaloneConnector } : {}),
  });
  client.on('error', () => undefined);
  await client.connect();
  assert.equal(await client.ping(), 'PONG');
  return client;
}

describe('guarded Redis connectors', () => {
  it('a socket that errs twice does not throw its second error', async () => {
    const client = await connected({ guarded: true });
    try {
      client.stream.emit('error', new Error('handshake refused'));
      assert.doesNotThrow(() => client.stream.emit('error', new Error('and an alert after it')));
    } finally {
      client.disconnect();
    }
  });

  it("(ioredis's own connector throws the second one: why the guard exists)", async () => {
    const client = await connected({ guarded: false });
    try {
      client.stream.emit('error', new Error('handshake refused'));
      assert.throws(() => client.stream.emit('error', new Error('and an alert after it')), /and an alert after it/);
    } finally {
      client.disconnect();
    }
  });
});
