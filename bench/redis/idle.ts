// An idle Celeriac worker on Redis: the commands it sends over BENCH_IDLE_SECONDS (10), from 3 s after it
// ran a task of each of its queues, counted with MONITOR (commands that run inside a script are tagged
// "lua" there and are not the worker's calls). One throwaway redis-server, one worker of the given queues,
// the default options. The tasks make the queues known, as in any real deployment: the maintenance
// services look at every known queue (until the ninth session this ran none, and missed that cost).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Socket } from 'node:net';
import { openMonitor } from '../../test/support/monitor.js';
import { startRedisServer } from '../../test/support/redis-server.js';
import { Celeriac, createLogger } from '../../src/index.js';

export interface IdleCommands {
  perSecond: number;
  seconds: number;
  /** Commands by name (FCALLs by script) over the whole window, most frequent first. */
  byCommand: Record<string, number>;
}

/** `pollInterval`: the worker option (default 1 s), the interval of an idle worker's lease poll. */
export async function redisIdleWorker(queues = ['default'], pollInterval?: string): Promise<IdleCommands> {
  const seconds = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
  const server = await startRedisServer();
  const app = new Celeriac({ broker: server.url, logger: createLogger({ level: 'silent' }) });
  app.task({ name: 'bench.noop', run: () => undefined });
  const worker = app.worker({ queues, handleSignals: false, ...(pollInterval ? { pollInterval } : {}) });
  const counts = new Map<string, number>();
  let monitor: Socket | undefined;
  try {
    await worker.start();
    // From another app, closed before counting: the worker's own app waits on no result.
    const producer = new Celeriac({ broker: server.url, logger: createLogger({ level: 'silent' }) });
    try {
      const runs = await producer.enqueueMany(queues.map((queue) => ({ task: 'bench.noop', input: undefined, options: { queue } })));
      await Promise.all(runs.map((run) => run.result({ timeout: '10s' })));
    } finally {
      await producer.close();
    }
    await sleep(3_000);
    monitor = await openMonitor(server.port, ({ source, args }) => {
      if (source === 'lua') return; // Run by a script, not sent by the worker.
      // An FCALL by its script: "fcall lease" (the library's name carries a version hash).
      const name = args[0] === 'fcall' ? `fcall ${args[1]!.replace(/^celeriac_[0-9a-f]+_/, '')}` : args[0]!;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    });
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

