import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/index.js';
import { PeriodicService } from '../../src/worker/maintenance/service.js';

const silent = createLogger({ level: 'silent' });

/** The services' timers are unref'd; this ref'd deadline keeps the test alive and bounds it. */
function within<T>(promise: Promise<T>, ms = 5_000): Promise<T> {
  let timer!: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('maintenance services', () => {
  it('run at once, then again after the delay the job asks for', async () => {
    const runs: number[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const service = new PeriodicService('test', 60_000, async () => {
      runs.push(Date.now());
      if (runs.length === 3) done();
      return 5;
    }, silent);
    service.start();
    await within(finished);
    service.stop();
    assert.equal(runs.length, 3);
  });

  it('honour a poke that arrives while the job is running', async () => {
    let calls = 0;
    let release!: () => void;
    let secondRun!: () => void;
    const second = new Promise<void>((resolve) => (secondRun = resolve));
    const service = new PeriodicService('test', 60_000, async () => {
      calls++;
      if (calls === 1) await new Promise<void>((resolve) => (release = resolve));
      if (calls === 2) secondRun();
      return undefined; // Otherwise it would sleep for a minute.
    }, silent);
    service.start();
    await within((async () => { while (!release) await new Promise((resolve) => setImmediate(resolve)); })());
    service.poke(0); // During the first run.
    release();
    await within(second);
    service.stop();
    assert.equal(calls, 2);
  });

  it('never let a later poke postpone an earlier run', async () => {
    let calls = 0;
    let ranAgain!: () => void;
    const again = new Promise<void>((resolve) => (ranAgain = resolve));
    const service = new PeriodicService('test', 60_000, async () => {
      if (++calls === 2) ranAgain();
      return calls === 1 ? 10 : undefined;
    }, silent);
    service.start();
    await within((async () => { while (calls === 0) await new Promise((resolve) => setImmediate(resolve)); })());
    service.poke(3_600_000); // An hour away: must not replace the 10 ms timer.
    await within(again);
    service.stop();
    assert.equal(calls, 2);
  });
});
