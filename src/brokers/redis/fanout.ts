// Fan-out: the reads and maintenance passes that send a command per queue (counts, stats, lists, the
// maintainer's scripts, looking for a task's queue) send them as pipelines of up to PIECE commands, each
// in one socket write, instead of one write per command: with 1,000 queues those writes were most of
// the time of the reads. On a Cluster, pipelines per master, chosen by the slot of each command's first
// key (every command here touches the keys of one queue, which share its hash tag). ioredis's
// auto-pipelining would gather every command of the process this way, but holds each one back until
// setImmediate, which costs the hot paths (connection.ts); so it stays off, and only these calls gather.
// For commands with small replies: a pipeline of large ones (whole task records) was slower (reads.ts).
import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import type { Client } from './connection.js';
import { isMissingLibrary, loadLibrary, sendAgain, type RedisCommand } from './scripts.js';

/** The key that names a command's slot: an FCALL's first key, else the command's first argument. */
function firstKey([command, ...args]: RedisCommand): string {
  return String(command === 'fcall' ? args[2] : args[0]);
}

/**
 * A failure that says where a command went, not what it did: the library missing on that server (the
 * command ran nothing), or a Cluster redirection (the slot has moved, is moving, or the cluster is
 * between states). The command is sent again alone, on the paths that load the library and follow
 * redirections.
 */
function sentToTheWrongPlace(error: Error): boolean {
  return isMissingLibrary(error) || /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(error.message);
}

/** ioredis refuses a pipeline whose keys turn out to be on several masters (a slot moved since `byMaster` looked). */
const SPLIT_PIPELINE = /should belong to the same slots allocation group/;

/**
 * Sends `commands` and returns their replies in order; the first failure rejects, as `Promise.all` of
 * the same commands sent one by one would.
 */
export async function fanOut<T>(client: Client, commands: RedisCommand[]): Promise<T[]> {
  if (commands.length === 0) return [];
  if (commands.length === 1) return [await sendOne<T>(client, commands[0]!)];
  const groups = (client.isCluster ? byMaster(client as Cluster, commands) : [commands.map((_, i) => i)]).flatMap((group) => inPieces(group));
  const replies = new Array<T>(commands.length);
  const again: number[] = [];
  let missingLibrary = false;
  await Promise.all(
    groups.map(async (group) => {
      const pipeline = client.pipeline();
      for (const i of group) pipeline.call(...commands[i]!);
      let answers: Array<[Error | null, unknown]>;
      try {
        answers = (await pipeline.exec()) ?? [];
      } catch (error) {
        if (!(error instanceof Error && SPLIT_PIPELINE.test(error.message))) throw error;
        again.push(...group);
        return;
      }
      group.forEach((i, n) => {
        const [error, reply] = answers[n] ?? [new Error('no reply in the pipeline'), undefined];
        if (!error) replies[i] = reply as T;
        else if (sentToTheWrongPlace(error)) {
          again.push(i);
          missingLibrary ||= isMissingLibrary(error);
        } else throw error;
      });
    }),
  );
  if (again.length > 0) {
    // Once, rather than once per command, when the library is missing (FLUSHALL, a restart).
    if (missingLibrary) await loadLibrary(client);
    await Promise.all(again.map(async (i) => (replies[i] = await sendOne<T>(client, commands[i]!))));
  }
  return replies;
}

function sendOne<T>(client: Client, command: RedisCommand): Promise<T> {
  return (client.call(...command) as Promise<T>).catch((error: unknown) => sendAgain<T>(client, command, error));
}

/** The commands' indexes grouped by the master that serves their slot, as the client last learned it. */
function byMaster(cluster: Cluster, commands: RedisCommand[]): number[][] {
  const groups = new Map<string, number[]>();
  commands.forEach((command, i) => {
    const master = cluster.slots[calculateSlot(firstKey(command))]?.[0] ?? '';
    const group = groups.get(master);
    if (group) group.push(i);
    else groups.set(master, [i]);
  });
  return [...groups.values()];
}

/**
 * Commands per pipeline. Pieces sent one after another let Redis run the first while the client still
 * builds the next (one pipeline of 1,000 scripts left each side idle while the other worked), and bound
 * the size of one write and of one reply to parse.
 */
const PIECE = 100;

function inPieces(group: number[]): number[][] {
  const pieces: number[][] = [];
  for (let i = 0; i < group.length; i += PIECE) pieces.push(group.slice(i, i + PIECE));
  return pieces;
}
