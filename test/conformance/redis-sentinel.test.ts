// The conformance suite through a Sentinel group that the harness starts on loopback ports (a master
// and a sentinel): the broker asks the sentinel for the master, then works on it. A random key prefix
// for each case.
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { startRedisSentinel, type RedisSentinel } from '../support/redis-sentinel.js';
import { runBrokerConformance } from './broker-suite.js';

let group: Promise<RedisSentinel> | undefined;

after(async () => {
  await (await group)?.stop();
});

runBrokerConformance({
  name: 'redis sentinel',
  newUrl: async () => {
    group ??= startRedisSentinel();
    const { url } = await group;
    return { url: `${url}?prefix=test-${randomUUID().slice(0, 8)}`, cleanup: () => undefined };
  },
});
