// The Redis broker's Lua scripts: includes expand, and every script's header names its KEYS, ARGV and
// return value, with as many KEYS as the loader passes.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadScript, SCRIPT_KEYS, type ScriptName } from '../../src/brokers/redis/scripts.js';

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
      const source = loadScript(name);
      const header = source.split('\n').filter((line) => line.startsWith('--')).join('\n');
      const keys = [...header.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      assert.equal(Math.max(...keys), SCRIPT_KEYS[name]);
      assert.match(header, /ARGV\[1\]/);
      assert.match(header, /Returns/);
      assert.doesNotMatch(source, /^-- @include/m, 'every include is expanded');
    });
  }

  it('expands an include once, however many times it is named', () => {
    const source = loadScript('lease');
    assert.equal(source.match(/local function task_event/g)?.length, 1);
    assert.equal(source.match(/local function cancel_expired/g)?.length, 1);
  });
});
