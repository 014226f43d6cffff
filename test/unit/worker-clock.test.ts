// A worker compares its host's clock with the broker's: Redis tells its time (clockOffset), and a worker
// whose clock is a second or more off warns, since leases, hand-off registrations and due times compare
// times taken on different hosts.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Celeriac, connectBroker } from '../../src/index.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

/** The warnings a worker on `broker` logs while starting. */
async function startupWarnings(broker: Awaited<ReturnType<typeof connectBroker>>): Promise<Array<{ msg: string; clockOffsetMs?: number }>> {
  const lines: Array<{ msg: string; clockOffsetMs?: number }> = [];
  const logger = pino({ level: 'warn' }, { write: (text: string) => void lines.push(JSON.parse(text) as { msg: string }) });
  const app = new Celeriac({ broker, logger });
  const worker = app.worker({ handleSignals: false, maintenance: false });
  try {
    await worker.start();
    return lines;
  } finally {
    await worker.close();
    await app.close();
  }
}

describe("the broker's clock", () => {
  it('Redis gives its clock offset, about zero on this host', async () => {
    const broker = await connectBroker(`${server.url}?prefix=clock-${randomUUID().slice(0, 8)}`);
    try {
      const offset = await broker.clockOffset!();
      assert.ok(Math.abs(offset) < 100, `offset ${offset} ms`);
    } finally {
      await broker.close();
    }
  });

  it('a worker whose host clock is off the broker\'s by a second or more warns, naming the offset', async () => {
    const skewed = await connectBroker(`${server.url}?prefix=clock-${randomUUID().slice(0, 8)}`);
    skewed.clockOffset = () => Promise.resolve(25_000); // This host 25 s behind Redis.
    const [warning, ...more] = await startupWarnings(skewed);
    assert.equal(more.length, 0);
    assert.equal(warning?.clockOffsetMs, 25_000);
    assert.match(warning?.msg ?? '', /this host's clock is 25\.0 s behind the broker's: .*Keep clocks in sync \(NTP\)/);

    const inSync = await connectBroker(`${server.url}?prefix=clock-${randomUUID().slice(0, 8)}`);
    assert.deepEqual(await startupWarnings(inSync), [], 'no warning when the clocks agree');
  });
});
