// The Redis broker's Lua scripts: includes expand, every script's header names its KEYS, ARGV and
// return value, with as many KEYS as the loader passes, and the Function library that serves them loads,
// is loaded again when a server lost it, and retires other versions' libraries when it is new there.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { connectBroker } from '../../src/index.js';
import { buildLibrary, runScript, SCRIPT_KEYS, type ScriptName } from '../../src/brokers/redis/scripts.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { newTask } from '../conformance/suite/records.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

const LUA_DIR = new URL('../../src/brokers/redis/lua/', import.meta.url);

describe('Redis Lua scripts', () => {
  it('registers every .lua file, and only those', () => {
    const files = readdirSync(LUA_DIR)
      .filter((name) => name.endsWith('.lua'))
      .map((name) => name.slice(0, -4))
      .sort();
    assert.deepEqual(files, Object.keys(SCRIPT_KEYS).sort());
  });

  for (const name of Object.keys(SCRIPT_KEYS) as ScriptName[]) {
    it(`${name}.lua has a header naming its ${SCRIPT_KEYS[name]} KEYS, its ARGV and what it returns`, () => {
      const source = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
      const header = source.split('\n').filter((line) => line.startsWith('--')).join('\n');
      const keys = [...header.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      assert.equal(Math.max(...keys), SCRIPT_KEYS[name]);
      assert.match(header, /ARGV\[1\]|ARGV none/);
      assert.match(header, /Returns/);
    });
  }

  it('defines each include once in the library, however many scripts name it', () => {
    const { source } = buildLibrary();
    assert.doesNotMatch(source, /^-- @include/m, 'every include is expanded');
    assert.equal(source.match(/local function task_event\(/g)?.length, 1);
    assert.equal(source.match(/local function cancel_expired\(/g)?.length, 1);
    assert.equal(source.match(/redis\.register_function/g)?.length, Object.keys(SCRIPT_KEYS).length);
  });

  it('serves every script as a function of one versioned library, which a server that lost it gets again', async () => {
    const library = buildLibrary();
    assert.match(library.name, /^celeriac_[0-9a-f]{12}$/);
    assert.equal(buildLibrary().name, library.name, 'the version is a hash of the source');
    const broker = await connectBroker(`${server.url}?prefix=lib-${randomUUID().slice(0, 8)}`);
    const redis = new Redis(server.port);
    try {
      const listed = (await redis.call('FUNCTION', 'LIST', 'LIBRARYNAME', library.name)) as unknown[][];
      const functions = (listed[0]![5] as unknown[][]).map((entry) => String(entry[1])).sort();
      assert.deepEqual(functions, Object.values(library.functions).sort());
      // Those that only read, delete, publish, rewrite a few bytes, mark a queue empty, record a worker or count subscribers still run when Redis is over maxmemory.
      const allowedWhenFull = (listed[0]![5] as unknown[][])
        .filter((entry) => (entry[entry.indexOf('flags') + 1] as string[]).includes('allow-oom'))
        .map((entry) => String(entry[1]).slice(library.name.length + 1))
        .sort();
      assert.deepEqual(allowedWhenFull, ['acquire_leadership', 'count', 'count_finished', 'finish_times', 'forget', 'heartbeat', 'list_first', 'prune', 'publish', 'purge', 'queue_subscribers', 'reclaim', 'register', 'release_leadership', 'unpark']);
      await redis.call('FUNCTION', 'FLUSH');
      const [outcome] = await broker.enqueue([newTask()]);
      assert.equal(outcome?.state, 'queued', 'enqueued after the library was flushed');
      assert.equal(((await redis.call('FUNCTION', 'LIST', 'LIBRARYNAME', library.name)) as unknown[]).length, 1);
    } finally {
      redis.disconnect();
      await broker.close();
    }
  });

  it('a call whose library keeps vanishing loads it again and retries, up to three times', async () => {
    const serverWhoseLibraryVanishes = (missingFor: number) => {
      const seen = { fcalls: 0, loads: 0 };
      const fcall = () => (++seen.fcalls <= missingFor ? Promise.reject(new Error('ERR Function not found')) : Promise.resolve('done'));
      const client = {
        fcall,
        call: (...args: string[]) => {
          if (args[0] === 'fcall') return fcall();
          if (args[1] === 'LOAD') seen.loads++;
          return Promise.resolve(args[1] === 'LIST' ? [] : 'OK');
        },
      };
      return { client: client as unknown as Redis, seen };
    };
    const thrice = serverWhoseLibraryVanishes(3);
    assert.equal(await runScript(thrice.client, 'publish', ['k'], []), 'done');
    assert.deepEqual(thrice.seen, { fcalls: 4, loads: 3 });
    const always = serverWhoseLibraryVanishes(Infinity);
    await assert.rejects(runScript(always.client, 'publish', ['k'], []), /Function not found/);
    assert.deepEqual(always.seen, { fcalls: 4, loads: 3 }, 'gives up after three reloads');
  });

  it("a process that loads a new version retires the others' libraries; one whose library was retired loads it again and retires nothing", async () => {
    const ours = buildLibrary().name;
    const fake = (name: string) => `#!lua name=${name}\nredis.register_function('${name}_ping', function() return 1 end)`;
    const libraries = async () =>
      ((await redis.call('FUNCTION', 'LIST')) as unknown[][]).map((entry) => String(entry[1])).sort();
    const redis = new Redis(server.port);
    let broker: Awaited<ReturnType<typeof connectBroker>> | undefined;
    try {
      await redis.call('FUNCTION', 'FLUSH');
      await redis.call('FUNCTION', 'LOAD', fake('celeriac_000000000000'));
      await redis.call('FUNCTION', 'LOAD', fake('mine'));
      broker = await connectBroker(`${server.url}?prefix=lib-${randomUUID().slice(0, 8)}`);
      assert.deepEqual(await libraries(), [ours, 'mine'].sort(), "the older version's library is gone, the user's stays");

      // A newer version's first process retires this one's library: this process loads it again at its
      // next call, and leaves the newer one alone.
      await redis.call('FUNCTION', 'DELETE', ours);
      await redis.call('FUNCTION', 'LOAD', fake('celeriac_ffffffffffff'));
      const [outcome] = await broker.enqueue([newTask()]);
      assert.equal(outcome?.state, 'queued');
      assert.deepEqual(await libraries(), [ours, 'celeriac_ffffffffffff', 'mine'].sort());
    } finally {
      await broker?.close();
      await redis.call('FUNCTION', 'DELETE', 'celeriac_ffffffffffff').catch(() => undefined);
      await redis.call('FUNCTION', 'DELETE', 'mine').catch(() => undefined);
      redis.disconnect();
    }
  });
});
