// The Lua scripts (lua/*.lua, sharing lua/includes/*.lua through `-- @include name` lines), served to
// Redis as one Function library and called with FCALL.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

/** Each script and how many KEYS it takes (the header of each .lua file names them). */
export const SCRIPT_KEYS = {
  enqueue: 6,
  enqueue_one: 3,
  lease: 5,
  settle: 6,
  renew: 1,
  release: 4,
  cancel: 6,
  progress: 1,
  maintain: 7,
  prune: 11,
  forget: 11,
  purge: 6,
  finish_times: 1,
  count: 7,
  count_finished: 3,
  list_first: 7,
  queued_counts: 3,
  register: 1,
  name_queues: 1,
  queue_subscribers: 1,
  heartbeat: 1,
  publish: 1,
  acquire_leadership: 3,
  release_leadership: 1,
  unpark: 1,
  reclaim: 2,
} as const;

export type ScriptName = keyof typeof SCRIPT_KEYS;
type Arg = string | number;

const LUA_DIR = new URL('./lua/', import.meta.url);
const INCLUDE_LINE = /^-- @include ([\w-]+)[ \t]*$/gm;
/**
 * `-- @flags allow-oom`: a script that only reads, deletes, publishes, rewrites a few bytes in place, marks a
 * queue found empty or a call that published (keys of a few bytes), or records a worker coming online, so
 * it may still run when Redis is full (pruning and purging free memory; a worker started then comes
 * online and waits for room). Without it a function may write and is refused while Redis is over
 * `maxmemory`.
 */
const FLAGS_LINE = /^-- @flags ([\w -]+?)[ \t]*$/m;
const KNOWN_FLAGS = new Set(['allow-oom']);

/** The Redis Function library: its name, its source, and the function of each script. */
export interface Library {
  name: string;
  source: string;
  functions: Record<ScriptName, string>;
}

/**
 * Every script as one Redis Function library (Redis 7), loaded once per server with FUNCTION LOAD: the
 * includes are defined once at the top of the library instead of on every call, as an EVAL script would
 * (closures and tables are most of what a Lua call costs in Redis). Each script's body becomes a function
 * `celeriac_<version>_<script>` taking KEYS and ARGV; the include state is reset at the start of each call
 * (an include keeps its per-call state in locals that its `reset_<include>` function sets). The version is
 * a hash of the source, so processes running different Celeriac versions on one Redis each use their own.
 */
export function buildLibrary(dir: URL = LUA_DIR): Library {
  const includes = new Map<string, { text: string; needs: string[] }>();
  const includeNames = (source: string): string[] => [...source.matchAll(INCLUDE_LINE)].map((m) => m[1]!);
  const load = (include: string): void => {
    if (includes.has(include)) return;
    const source = readFileSync(new URL(`includes/${include}.lua`, dir), 'utf8');
    const needs = includeNames(source);
    needs.forEach(load); // What an include needs comes before it.
    includes.set(include, { text: source.replace(INCLUDE_LINE, ''), needs });
  };
  /** A script's includes and theirs. */
  const closure = (names: string[], into = new Set<string>()): Set<string> => {
    for (const include of names) {
      if (into.has(include)) continue;
      into.add(include);
      closure(includes.get(include)!.needs, into);
    }
    return into;
  };
  const bodies = (Object.keys(SCRIPT_KEYS) as ScriptName[]).map((name) => {
    const text = readFileSync(new URL(`${name}.lua`, dir), 'utf8');
    const used = includeNames(text);
    used.forEach(load);
    const flags = FLAGS_LINE.exec(text)?.[1]?.split(/\s+/) ?? [];
    const unknown = flags.find((flag) => !KNOWN_FLAGS.has(flag));
    if (unknown) throw new Error(`${name}.lua: unknown flag '${unknown}' (known: ${[...KNOWN_FLAGS].join(', ')})`);
    return { name, body: text.replace(INCLUDE_LINE, ''), used, flags };
  });
  const shared = [...includes.values()].map((include) => include.text).join('\n');
  const registered = bodies.map(({ name, body, used, flags }) => {
    // Each call starts by resetting the per-call state of the includes it uses (nothing else: a reset
    // costs a table or two, and a single enqueue is short).
    const needed = closure(used);
    const resets = [...needed]
      .flatMap((include) => [...includes.get(include)!.text.matchAll(/^local function (reset_\w+)\(\)/gm)].map((m) => `${m[1]}()`))
      .join(' ');
    const callback = `function(KEYS, ARGV)\n${resets}\n${body}\nend`;
    if (flags.length === 0) return `redis.register_function('@@_${name}', ${callback})`;
    const flagList = flags.map((flag) => `'${flag}'`).join(', ');
    return `redis.register_function{function_name='@@_${name}', callback=${callback}, flags={${flagList}}}`;
  });
  const text = `${shared}\n${registered.join('\n')}\n`;
  const version = createHash('sha1').update(text).digest('hex').slice(0, 12);
  const name = `celeriac_${version}`;
  const functions = Object.fromEntries(bodies.map(({ name: script }) => [script, `${name}_${script}`])) as Record<ScriptName, string>;
  return { name, source: `#!lua name=${name}\n${text.replaceAll('@@_', `${name}_`)}`, functions };
}

let library: Library | undefined;

/** The library, built once per process. */
export function celeriacLibrary(): Library {
  library ??= buildLibrary();
  return library;
}

/** A Celeriac library's name, any version. */
const CELERIAC_LIBRARY = /^celeriac_[0-9a-f]{12}$/;

/**
 * Loads the library on a server (or on every master of a Cluster) unless it is there already (its name
 * is a hash of its source): asking is a read, so a process can open a broker whose Redis is full
 * (over `maxmemory`, which refuses FUNCTION LOAD) and, say, purge it.
 *
 * `retireOthers` (when a process opens a broker): after loading this version's library, deletes every
 * other version's, so that libraries do not pile up on a server over years of upgrades (about 60 KB of
 * source each). Only the first process of a new version loads and so retires; a process of another
 * version still running finds its library gone at its next call, loads it again without retiring
 * anything (`runScript`), and goes on: one extra round trip per such process and upgrade. Deleting only
 * after a successful load leaves the others in place when this one cannot load (a full Redis).
 */
export async function loadLibrary(client: Redis | Cluster, { retireOthers = false } = {}): Promise<void> {
  const { name, source } = celeriacLibrary();
  const nodes = 'nodes' in client && typeof client.nodes === 'function' ? client.nodes('master') : [client as Redis];
  await Promise.all(
    nodes.map(async (node) => {
      const listed = await node.call('FUNCTION', 'LIST', 'LIBRARYNAME', name);
      if (Array.isArray(listed) && listed.length > 0) return;
      await node.call('FUNCTION', 'LOAD', 'REPLACE', source);
      if (retireOthers) await retireOtherVersions(node, name);
    }),
  );
}

/** Deletes the Celeriac libraries of other versions on one server; a failure (an ACL without FUNCTION DELETE, say) leaves them. */
async function retireOtherVersions(node: Redis, keep: string): Promise<void> {
  const listed = (await node.call('FUNCTION', 'LIST', 'LIBRARYNAME', 'celeriac_*').catch(() => [])) as unknown[];
  const names = listed.map((entry) => (Array.isArray(entry) ? String(entry[1]) : '')).filter((n) => n !== keep && CELERIAC_LIBRARY.test(n));
  await Promise.all(names.map((old) => node.call('FUNCTION', 'DELETE', old).catch(() => undefined)));
}

const NOT_FOUND = /Function not found/i;

/** How many times a call loads the library again and retries when the server answers "Function not found". */
const RELOADS = 3;

/**
 * Runs a script's function. A server that lost the library (FUNCTION FLUSH, FLUSHALL, a restart without
 * persistence, or another version's first process retiring it: `loadLibrary`) answers "Function not
 * found": the library is loaded again and the call retried, up to RELOADS times.
 */
export async function runScript<T>(client: Redis | Cluster, name: ScriptName, keys: string[], args: Arg[]): Promise<T> {
  if (keys.length !== SCRIPT_KEYS[name]) throw new Error(`script ${name} takes ${SCRIPT_KEYS[name]} keys, got ${keys.length}`);
  const fn = celeriacLibrary().functions[name];
  try {
    return (await client.fcall(fn, keys.length, ...keys, ...args)) as T;
  } catch (error) {
    return sendAgain<T>(client, ['fcall', fn, keys.length, ...keys, ...args], error);
  }
}

/** A command as `client.call` takes it: its name, then its arguments. */
export type RedisCommand = [command: string, ...args: Arg[]];

/** The FCALL of a script's function. */
export function scriptCommand(name: ScriptName, keys: string[], args: Arg[]): RedisCommand {
  if (keys.length !== SCRIPT_KEYS[name]) throw new Error(`script ${name} takes ${SCRIPT_KEYS[name]} keys, got ${keys.length}`);
  return ['fcall', celeriacLibrary().functions[name], keys.length, ...keys, ...args];
}

/**
 * After `command` failed with `failure`: an FCALL that found no library loads it and is sent again, up to
 * RELOADS times; any other failure is thrown.
 */
export async function sendAgain<T>(client: Redis | Cluster, [command, ...args]: RedisCommand, failure: unknown): Promise<T> {
  for (let reload = 0; reload < RELOADS && command === 'fcall' && isMissingLibrary(failure); reload++) {
    await loadLibrary(client);
    try {
      return (await client.call(command, ...args)) as T;
    } catch (again) {
      failure = again;
    }
  }
  throw failure;
}

/** The server's answer to a call of a function it does not have. */
export function isMissingLibrary(error: unknown): boolean {
  return error instanceof Error && NOT_FOUND.test(error.message);
}
