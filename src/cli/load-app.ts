// Finds the Celeriac app a command works on: the `app` exported by the -A module (a .ts or .js file
// loaded through tsx, no build step), or a bare app on the --broker URL for commands that need no code.
//
// Broker precedence when -A is given: --broker is placed in CELERIAC_BROKER_URL before the module is
// imported, so an app built with `new Celeriac()` or `new Celeriac({ broker: process.env.CELERIAC_BROKER_URL })`
// uses it. An app that hard-codes another broker is refused rather than silently split in two.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { destination, pino } from 'pino';
import { Celeriac, type Logger } from '../index.js';
import { usageError } from './exit-codes.js';
import type { CommonOptions } from './options.js';

export interface LoadedApp {
  app: Celeriac;
  /** The module it came from, as given on the command line; undefined for a bare app. */
  module?: string;
}

/** A quiet logger on stderr for apps the CLI makes itself: stdout is kept for data. */
export function cliLogger(): Logger {
  const level = process.env.CELERIAC_LOG_LEVEL ?? 'warn';
  return pino({ level, base: { name: 'celeriac' } }, destination({ dest: 2, sync: true }));
}

/** The app for a command: from -A when given, else a bare one on the resolved broker. */
export async function loadApp(options: CommonOptions, { requireModule = false } = {}): Promise<LoadedApp> {
  if (options.app) return { app: await importApp(options.app, options.broker), module: options.app };
  if (requireModule) throw usageError('this command needs the app module: pass -A ./tasks.ts (or set CELERIAC_APP)');
  return { app: new Celeriac({ broker: options.broker, logger: cliLogger() }) };
}

/** Splits `./tasks.ts:myApp` into file and export name; a plain path exports `app`. */
export function parseModuleSpec(spec: string): { file: string; exportName: string } {
  const match = /^(.+):([A-Za-z_$][\w$]*)$/.exec(spec);
  if (match && !existsSync(resolve(spec))) return { file: match[1]!, exportName: match[2]! };
  return { file: spec, exportName: 'app' };
}

async function importApp(spec: string, broker: string | undefined): Promise<Celeriac> {
  const { file, exportName } = parseModuleSpec(spec);
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) throw usageError(`cannot find app module '${file}' (resolved to ${path})`);
  if (broker) process.env.CELERIAC_BROKER_URL = broker;
  const exports = await importModule(path, file);
  const app = pickApp(exports, exportName, file);
  if (broker) assertBroker(app, broker, file);
  return app;
}

async function importModule(path: string, file: string): Promise<Record<string, unknown>> {
  const { register } = await import('tsx/esm/api');
  register();
  try {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw Object.assign(usageError(`cannot load app module '${file}': ${reason}`), { cause: error });
  }
}

/** The named export, or a default export, that looks like a Celeriac app. */
function pickApp(exports: Record<string, unknown>, exportName: string, file: string): Celeriac {
  const candidate = exports[exportName] ?? (exportName === 'app' ? exports.default : undefined);
  if (!looksLikeApp(candidate)) {
    const found = Object.keys(exports).join(', ') || 'nothing';
    throw usageError(`app module '${file}' does not export \`${exportName}\` as a Celeriac app (it exports: ${found})`);
  }
  return candidate;
}

/** Duck-typed: the module may use another copy of Celeriac than this CLI. */
function looksLikeApp(value: unknown): value is Celeriac {
  const methods = ['enqueueMany', 'getTask', 'waitForTask', 'worker', 'registeredTasks', 'listWorkers', 'close'];
  return typeof value === 'object' && value !== null && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
}

function assertBroker(app: Celeriac, broker: string, file: string): void {
  const wanted = new Celeriac({ broker, logger: cliLogger() }).url;
  if (app.url === wanted) return;
  throw usageError(
    `--broker ${wanted} was given but the app in '${file}' is bound to ${app.url}; ` +
      'build the app with `new Celeriac({ broker: process.env.CELERIAC_BROKER_URL })` so the flag can choose, or drop --broker',
  );
}

/** Runs `body` with the command's app and closes the app afterwards, whatever happens. */
export async function withApp<T>(
  options: CommonOptions,
  body: (app: Celeriac, loaded: LoadedApp) => Promise<T>,
  load: { requireModule?: boolean } = {},
): Promise<T> {
  const loaded = await loadApp(options, load);
  try {
    return await body(loaded.app, loaded);
  } finally {
    await loaded.app.close().catch(() => undefined);
  }
}
