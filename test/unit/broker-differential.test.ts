// SQLite and Redis side by side: seeded random sequences of broker calls on both, every reply, record
// and event compared (the sequences and what they keep clear of: test/support/broker-differential.ts).
// The conformance suite pins each rule with a chosen case; this looks for the combinations nobody chose.
import { after, before, describe, it } from 'node:test';
import { runSequence } from '../support/broker-differential.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

/** More or longer sequences for a search by hand: BROKER_DIFF_SEEDS=500 BROKER_DIFF_STEPS=1500 node --import tsx --test <this file>. */
const SEEDS = Number(process.env.BROKER_DIFF_SEEDS ?? 12);
const STEPS = Number(process.env.BROKER_DIFF_STEPS ?? 300);

describe('SQLite and Redis brokers side by side', () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}: ${STEPS} random calls get the same replies from both`, async () => {
      await runSequence(server.url, seed, STEPS);
    });
  }
});
