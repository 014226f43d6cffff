// Loads the Lua scripts from lua/*.lua, expands their `-- @include name` lines with lua/includes/name.lua,
// and registers each as an ioredis command (EVALSHA, falling back to EVAL when Redis lost the script).
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

/** Each script and how many KEYS it takes (the header of each .lua file names them). */
export const SCRIPT_KEYS = {
  enqueue: 6,
  lease: 5,
  settle: 6,
  renew: 1,
  release: 4,
  cancel: 6,
  progress: 1,
  promote: 4,
  rescue: 4,
  prune: 5,
  purge: 5,
  heartbeat: 1,
  acquire_leadership: 1,
  release_leadership: 1,
  unpark: 1,
} as const;

export type ScriptName = keyof typeof SCRIPT_KEYS;
type Arg = string | number;
type ScriptCall = (...args: Arg[]) => Promise<unknown>;

const LUA_DIR = new URL('./lua/', import.meta.url);
const COMMAND_PREFIX = 'celeriac_';

/** A script's source with its includes expanded (each at most once, in the order first named). */
export function loadScript(name: string, dir: URL = LUA_DIR): string {
  const included = new Set<string>();
  const expand = (source: string): string =>
    source.replace(/^-- @include ([\w-]+)[ \t]*$/gm, (_line, include: string) => {
      if (included.has(include)) return `-- (${include} already included)`;
      included.add(include);
      return expand(readFileSync(new URL(`includes/${include}.lua`, dir), 'utf8'));
    });
  return expand(readFileSync(new URL(`${name}.lua`, dir), 'utf8'));
}

/** Sources are read once per process and shared by every connection. */
let sources: Map<ScriptName, string> | undefined;

function allSources(): Map<ScriptName, string> {
  sources ??= new Map(Object.keys(SCRIPT_KEYS).map((name) => [name as ScriptName, loadScript(name)]));
  return sources;
}

export function defineScripts(client: Redis | Cluster): void {
  for (const [name, lua] of allSources()) {
    client.defineCommand(COMMAND_PREFIX + name, { lua, numberOfKeys: SCRIPT_KEYS[name] });
  }
}

/** Runs a script on a client that `defineScripts` prepared. */
export function runScript<T>(client: Redis | Cluster, name: ScriptName, keys: string[], args: Arg[]): Promise<T> {
  if (keys.length !== SCRIPT_KEYS[name]) throw new Error(`script ${name} takes ${SCRIPT_KEYS[name]} keys, got ${keys.length}`);
  const call = (client as unknown as Record<string, ScriptCall>)[COMMAND_PREFIX + name]!;
  return call.call(client, ...keys, ...args) as Promise<T>;
}
