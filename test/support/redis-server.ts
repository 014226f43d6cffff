// Throwaway redis-server processes for tests and benchmarks: a free loopback port, a temp dir, no
// persistence unless asked, killed on stop. A missing redis-server binary is an error, never a skip.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its directory unless `keepDir`. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

export interface RedisServerOptions {
  /** Extra `redis-server` arguments, e.g. ['--appendonly', 'yes']. */
  args?: string[];
  port?: number;
  /** Reuse a directory (to restart a server on its AOF/RDB files). */
  dir?: string;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'celeriac-redis-'));
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--maxmemory-policy', 'noeviction',
    ...(options.args ?? []),
  ];
  const child = await spawnRedis(args, /Ready to accept connections/);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    process: child,
    stop: async ({ keepDir = false } = {}) => {
      await stopChild(child);
      if (!keepDir && !options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

let setprivAvailable: boolean | undefined;

/**
 * The command that runs `redis-server` so that it ends when this process does, however it ends: through
 * util-linux's `setpriv --pdeathsig` where there is one (every Debian), so a test run killed midway
 * (a timeout, Ctrl-C, kill -9) leaves no server behind to slow down the next runs.
 */
function redisCommand(args: string[]): [string, string[]] {
  const binary = process.env.REDIS_SERVER ?? 'redis-server';
  setprivAvailable ??= spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
  return setprivAvailable ? ['setpriv', ['--pdeathsig', 'SIGTERM', binary, ...args]] : [binary, args];
}

/**
 * Runs `redis-server` with `args` and resolves once its log matches `ready` (within 10 s); a missing
 * binary or an early exit rejects with what it printed.
 */
export async function spawnRedis(args: string[], ready: RegExp): Promise<ChildProcess> {
  const [command, commandArgs] = redisCommand(args);
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (install it: apt-get install redis-server): ${error.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      // 127: setpriv could not find the binary.
      const hint = code === 127 ? ' (install it: apt-get install redis-server)' : '';
      reject(new Error(`redis-server exited with code ${code}${hint}:\n${output}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

/** Stops a child (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
