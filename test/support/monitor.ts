// MONITOR on a plain socket. ioredis's monitor() failed with "Command queue state error" when monitored
// lines arrived in the same read as MONITOR's +OK (a CI run hung on it: the test's connections kept
// reconnecting to a stopped server), so tests and benchmarks read MONITOR's lines themselves.
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { within } from './wait.js';

export interface MonitoredCommand {
  /** The client's address, or 'lua' for a command a script ran. */
  source: string;
  /** The command's name (lower case) and arguments. */
  args: string[];
}

/** Opens a MONITOR connection; resolves once Redis confirmed it. Destroy the socket to stop. */
export function openMonitor(port: number, seen: (command: MonitoredCommand) => void, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    socket.setEncoding('utf8');
    let buffer = '';
    socket.on('error', reject); // After +OK, a no-op: what was seen stands.
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line === '+OK') {
          resolve(socket);
          continue;
        }
        const command = parseLine(line);
        if (command) seen(command);
      }
    });
    socket.write('MONITOR\r\n');
  });
}

/**
 * Records the commands clients send to the server on `port` (not those scripts run) until `stop`, which
 * waits until Redis has run every command sent before it and returns their names (FCALLs by their
 * script: "enqueue_one", not the library's versioned function name).
 */
export async function recordCommands(port: number): Promise<{ stop(): Promise<string[]> }> {
  const seen: MonitoredCommand[] = [];
  let marked: (() => void) | undefined;
  const marker = `mark-${randomUUID()}`;
  const direct = new Redis(port);
  await direct.ping(); // Connected before recording: its handshake is not recorded.
  const monitor = await openMonitor(port, (command) => {
    if (command.args[0] === 'echo' && command.args[1] === marker) marked?.();
    else if (command.source !== 'lua') seen.push(command);
  });
  return {
    async stop(): Promise<string[]> {
      const done = new Promise<void>((resolve) => (marked = resolve));
      await direct.echo(marker);
      direct.disconnect();
      await within(done, 5_000, 'the monitor seeing the marker');
      monitor.destroy();
      return seen.map(({ args }) => (args[0] === 'fcall' ? args[1]!.replace(/^celeriac_[0-9a-f]+_/, '') : args[0]!));
    },
  };
}

/** `+<time> [<db> <source>] "<command>" "<argument>" ...`, arguments escaped as Redis quotes them. */
function parseLine(line: string): MonitoredCommand | undefined {
  const head = /^\+[\d.]+ \[\d+ ([^\]]+)\] /.exec(line);
  if (!head) return undefined;
  const args = [...line.slice(head[0].length).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => unescape(m[1]!));
  if (args.length === 0) return undefined;
  args[0] = args[0]!.toLowerCase();
  return { source: head[1]!, args };
}

function unescape(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, code: string) => {
    if (code.startsWith('x') && code.length === 3) return String.fromCharCode(Number.parseInt(code.slice(1), 16));
    return { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' }[code] ?? code;
  });
}
