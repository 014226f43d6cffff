// A TCP proxy in front of a redis-server that can lose one reply: the request is delivered (Redis runs
// it), and when Redis answers, the proxy closes that connection instead of passing the answer on. The
// client sees the connection drop after its command ran: what a network failure or a server-side
// disconnect does at the worst moment. It can also cut every connection at once, the server staying up,
// or silence them: what a network partition or a host that vanished does (no FIN, no RST).
import net from 'node:net';

export interface ReplyDroppingProxy {
  port: number;
  url: string;
  /**
   * The next request chunk (on any connection) whose text contains `marker` is delivered, and the
   * connection closed when its answer comes. Resolves once that happened. With `thenHold`, the
   * connections opened from then on (the client's reconnection) get no further than the proxy until
   * `releaseHeld()`: what the client sends again waits, while the test changes things behind its back.
   */
  dropReplyTo(marker: string, options?: { thenHold?: boolean }): Promise<void>;
  /** Lets the held connections through to Redis, with what their clients sent meanwhile. */
  releaseHeld(): void;
  /** Closes every connection open now (clients reconnect through the proxy); returns how many. */
  cutAll(): number;
  /**
   * Silences every connection open now: from then on what either side sends is dropped, and both
   * sockets stay open (Redis still counts the client as connected, and a blocked command of it still
   * pops). Connections opened later pass. Returns how many were silenced.
   */
  silenceAll(): number;
  close(): Promise<void>;
}

export async function startReplyDroppingProxy(redisPort: number): Promise<ReplyDroppingProxy> {
  let trap: { marker: string; dropped: () => void } | undefined;
  /** Connections waiting for releaseHeld(), while holding. */
  let held: Array<() => void> | undefined;
  const sockets = new Set<net.Socket>();
  const silencers = new Set<() => void>();
  const server = net.createServer((client) => {
    if (!held) return wire(client);
    client.pause();
    sockets.add(client); // Closed by close() even if never let through.
    client.on('error', () => client.destroy());
    held.push(() => {
      wire(client);
      client.resume();
    });
  });
  const wire = (client: net.Socket): void => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let dropNextReply: (() => void) | undefined;
    let silent = false;
    const silence = () => (silent = true);
    silencers.add(silence);
    client.on('data', (chunk) => {
      if (silent) return;
      if (trap && chunk.toString('latin1').includes(trap.marker)) {
        dropNextReply = trap.dropped;
        trap = undefined;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (silent) return;
      if (dropNextReply) {
        client.destroy();
        upstream.destroy();
        dropNextReply();
        dropNextReply = undefined;
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      silencers.delete(silence);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dropReplyTo(marker, options) {
      return new Promise<void>((resolve) => {
        trap = {
          marker,
          dropped: () => {
            if (options?.thenHold) held ??= [];
            resolve();
          },
        };
      });
    },
    releaseHeld() {
      const waiting = held ?? [];
      held = undefined;
      for (const start of waiting) start();
    },
    cutAll() {
      const open = [...sockets];
      for (const socket of open) socket.destroy();
      return open.length;
    },
    silenceAll() {
      const open = [...silencers];
      silencers.clear();
      for (const silence of open) silence();
      return open.length;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
