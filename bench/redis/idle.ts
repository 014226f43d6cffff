// An idle Celeriac worker on Redis: the commands it sends over BENCH_IDLE_SECONDS (10), from 3 s after it
// started, counted with MONITOR (commands that run inside a script are tagged "lua" there and are not the
// worker's calls). One throwaway redis-server, one worker of the given queues, the default options.
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type Socket } from 'node:net';
import { startRedisServer } from '../../test/support/redis-server.js';
import { Celeriac, createLogger } from '../../src/index.js';

export interface IdleCommands {
  perSecond: number;
  seconds: number;
  /** Commands by name over the whole window, most frequent first. */
  byCommand: Record<string, number>;
}

export async function redisIdleWorker(queues = ['default']): Promise<IdleCommands> {
  const seconds = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
  const server = await startRedisServer();
  const app = new Celeriac({ broker: server.url, logger: createLogger({ level: 'silent' }) });
  app.task({ name: 'bench.noop', run: () => undefined });
  const worker = app.worker({ queues, handleSignals: false });
  const counts = new Map<string, number>();
  let monitor: Socket | undefined;
  try {
    await worker.start();
    await sleep(3_000);
    monitor = await openMonitor(server.port, (command) => counts.set(command, (counts.get(command) ?? 0) + 1));
    await sleep(seconds * 1_000);
  } finally {
    monitor?.destroy();
    await worker.close();
    await app.close();
    await server.stop();
  }
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const byCommand = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
  return { perSecond: total / seconds, seconds, byCommand };
}

/**
 * MONITOR on a plain socket, calling `seen` with the name of each command a client sent (not those run
 * inside scripts, which MONITOR tags "lua"). ioredis's monitor() was not used: it failed with "Command
 * queue state error" when monitored lines arrived in the same read as MONITOR's +OK.
 */
function openMonitor(port: number, seen: (command: string) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    let buffer = '';
    socket.on('error', reject); // After MONITOR's +OK, a no-op: the counts so far stand.
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line === '+OK') {
          resolve(socket);
          continue;
        }
        // +<time> [<db> <client address, or lua>] "<command>" "<argument>" ...
        const entry = /^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]*)"/.exec(line);
        if (entry && entry[1] !== 'lua') seen(entry[2]!.toLowerCase());
      }
    });
    socket.write('MONITOR\r\n');
  });
}
