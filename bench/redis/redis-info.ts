// What the Redis benchmarks read from the server itself: command counts (INFO commandstats), memory
// (INFO memory) and FLUSHALL between scenarios, over one ioredis connection of the harness.
import { Redis } from 'ioredis';
import type { RedisTarget } from './adapter.js';

export class RedisInfo {
  private readonly client: Redis;

  constructor(target: RedisTarget) {
    this.client = new Redis({ host: target.host, port: target.port, lazyConnect: true });
  }

  async connect(): Promise<void> {
    await this.client.connect();
  }

  async version(): Promise<string> {
    return /redis_version:(\S+)/.exec(await this.client.info('server'))?.[1] ?? 'unknown';
  }

  async flush(): Promise<void> {
    await this.client.flushall();
  }

  /** Calls per command since the server started, as `INFO commandstats` reports them. */
  async commandCalls(): Promise<Map<string, number>> {
    const calls = new Map<string, number>();
    for (const match of (await this.client.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      calls.set(match[1]!, Number(match[2]));
    }
    return calls;
  }

  /** CPU seconds the server has used (system and user, main thread and others), as `INFO cpu` reports them. */
  async cpuSeconds(): Promise<number> {
    const info = await this.client.info('cpu');
    const read = (field: string) => Number(new RegExp(`^${field}:([0-9.]+)`, 'm').exec(info)?.[1]);
    return read('used_cpu_sys') + read('used_cpu_user');
  }

  async usedMemory(): Promise<number> {
    return Number(/^used_memory:(\d+)/m.exec(await this.client.info('memory'))?.[1]);
  }

  async close(): Promise<void> {
    await this.client.quit();
  }
}

/**
 * Commands run between two snapshots, every command counted (those a Lua script runs as well as the
 * EVALSHA itself), less the INFO that took the first snapshot.
 */
export function commandDelta(before: Map<string, number>, after: Map<string, number>): { total: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [command, calls] of after) {
    const delta = calls - (before.get(command) ?? 0) - (command === 'info' ? 1 : 0);
    if (delta > 0) {
      byCommand[command] = delta;
      total += delta;
    }
  }
  return { total, byCommand: Object.fromEntries(Object.entries(byCommand).sort((a, b) => b[1] - a[1])) };
}
