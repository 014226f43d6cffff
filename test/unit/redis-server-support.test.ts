// The test harness's redis-server ends with the process that started it, even one killed with
// SIGKILL, so an interrupted test run leaves no server idling on the machine (such servers slowed down
// later benchmark runs before).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Children } from '../support/processes.js';

const OWNER = fileURLToPath(new URL('../fixtures/redis-owner.ts', import.meta.url));
const children = new Children();
after(() => children.killAll());

describe('test redis-server processes', () => {
  it('end when the process that started them is killed', async () => {
    const owner = children.start(process.execPath, ['--import', 'tsx', OWNER]);
    const { port } = await owner.waitFor(
      'the redis-server to start',
      () => owner.stdoutLines().find((line): line is { port: number } => typeof line === 'object' && line !== null && 'port' in line),
      15_000,
    );
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const closed = once(socket, 'close');
    socket.on('error', () => undefined); // A reset ends in 'close' too.
    owner.process.kill('SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the redis-server on port ${port} outlived its owner`)), 10_000);
    });
    try {
      await Promise.race([closed, deadline]);
    } finally {
      clearTimeout(timer);
      socket.destroy();
    }
    assert.equal(socket.destroyed, true);
  });
});
