// Redis broker URLs: what to connect to and under which key prefix.
//   redis://[user:password@]host[:port][/db][?prefix=celeriac]          (rediss:// for TLS)
//   redis+sentinel://[user:password@]h1[:p1],h2[:p2]/<masterName>[/db][?prefix=…][&sentinelPassword=…]
//     (rediss+sentinel://; the user and password are the master's, sentinelUsername/sentinelPassword the sentinels')
//   redis+cluster://[user:password@]h1[:p1],h2[:p2][?prefix=…]          (rediss+cluster://)
// rediss URLs also take redis-py's and Celery's TLS options, so one URL serves both: ssl_ca_certs,
// ssl_certfile and ssl_keyfile (PEM file paths) and ssl_cert_reqs (required, optional or none).
// socket_timeout (seconds, redis-py's name): how long a connection may stay silent while a reply is due
// before it counts as dead and is replaced (default 20).
import { BrokerError } from '../../errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/** What a rediss URL's `ssl_*` options ask for; absent when it has none (Node's defaults). */
export interface TlsOptions {
  /** ssl_ca_certs: trust this CA (PEM file) instead of Node's. */
  caFile?: string;
  /** ssl_certfile and ssl_keyfile: a client certificate and its key (PEM files), for servers that ask for one. */
  certFile?: string;
  keyFile?: string;
  /** ssl_cert_reqs: check the server's certificate (required, optional: as in Python, a client checks either way) or not (none). */
  verify: boolean;
}

interface Common {
  tls: boolean;
  tlsOptions?: TlsOptions;
  username?: string;
  password?: string;
  /** Every key starts with this (inside a hash tag); default 'celeriac'. */
  prefix: string;
  /** How long a connection may stay silent while a reply is due before it counts as dead (socket_timeout). */
  socketTimeoutMs: number;
}

export type RedisTarget =
  | (Common & { mode: 'standalone'; host: string; port: number; db: number })
  | (Common & { mode: 'sentinel'; sentinels: HostPort[]; masterName: string; db: number } & SentinelAuth)
  | (Common & { mode: 'cluster'; nodes: HostPort[] });

/** The sentinels' own credentials (Sentinel's `requirepass`, or an ACL user on the sentinels), from the query. */
interface SentinelAuth {
  sentinelUsername?: string;
  sentinelPassword?: string;
}

export const DEFAULT_PREFIX = 'celeriac';
/**
 * A connection with a reply due and nothing heard for this long is dead (a partition, a host gone
 * without closing it: TCP alone would wait many minutes) and is replaced. Longer than anything Redis
 * takes to answer a healthy client, and than a blocking wait on an inbox (handoff.ts waits half of it).
 */
export const DEFAULT_SOCKET_TIMEOUT_MS = 20_000;
/** socket_timeout's floor: a blocking wait takes at least 1 s, and needs a margin for its reply. */
const MIN_SOCKET_TIMEOUT_MS = 2_000;
const SENTINEL_OPTIONS = ['sentinelUsername', 'sentinelPassword'] as const;
const TLS_OPTIONS = ['ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile', 'ssl_cert_reqs'] as const;
const OPTIONS: readonly string[] = ['prefix', 'socket_timeout', ...SENTINEL_OPTIONS, ...TLS_OPTIONS];
const URL_PATTERN = /^(rediss?(?:\+sentinel|\+cluster)?):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i;

/** Parses a Redis broker URL; throws a BrokerError naming what is wrong (never the password). */
export function parseRedisUrl(url: string, masked: string): RedisTarget {
  const match = URL_PATTERN.exec(url);
  if (!match) throw invalid(masked, 'expected redis://[user:password@]host[:port][/db]');
  const [, scheme = '', userinfo, hosts = '', path = '', query = ''] = match;
  const variant = scheme.toLowerCase();
  const options = parseQuery(query, masked);
  const tls = variant.startsWith('rediss');
  const tlsOptions = parseTlsOptions(options, tls, masked);
  const common: Common = {
    tls,
    ...(tlsOptions ? { tlsOptions } : {}),
    prefix: parsePrefix(options.get('prefix'), masked),
    socketTimeoutMs: parseSocketTimeout(options.get('socket_timeout'), masked),
    ...parseUserinfo(userinfo),
  };
  if (!variant.endsWith('+sentinel')) {
    const misplaced = SENTINEL_OPTIONS.find((name) => options.has(name));
    if (misplaced) throw invalid(masked, `'${misplaced}' is an option of redis+sentinel:// URLs`);
  }
  if (variant.endsWith('+cluster')) {
    if (path !== '' && path !== '/') throw invalid(masked, 'a cluster URL takes no path (Redis Cluster has only db 0)');
    return { ...common, mode: 'cluster', nodes: parseHosts(hosts, 6379, masked) };
  }
  if (variant.endsWith('+sentinel')) {
    const [masterName, db] = path.split('/').slice(1);
    if (!masterName) throw invalid(masked, 'a sentinel URL names its master: redis+sentinel://host:26379/<masterName>[/db]');
    const auth: SentinelAuth = {};
    for (const name of SENTINEL_OPTIONS) {
      const value = options.get(name);
      if (value) auth[name] = value;
    }
    return {
      ...common,
      mode: 'sentinel',
      sentinels: parseHosts(hosts, 26379, masked),
      masterName: decodeURIComponent(masterName),
      db: parseDb(db, masked),
      ...auth,
    };
  }
  const [only, ...more] = parseHosts(hosts || 'localhost', 6379, masked);
  if (more.length > 0) throw invalid(masked, 'several hosts need redis+sentinel:// or redis+cluster://');
  const segments = path.split('/').slice(1);
  if (segments.length > 1) throw invalid(masked, 'the path is the database number, e.g. /0');
  return { ...common, mode: 'standalone', host: only!.host, port: only!.port, db: parseDb(segments[0], masked) };
}

function parseUserinfo(userinfo: string | undefined): { username?: string; password?: string } {
  if (!userinfo) return {};
  // user:password@, :password@ (no ACL user), or user@ (no password), as redis-py and ioredis read them.
  const colon = userinfo.indexOf(':');
  const username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const password = decodeURIComponent(colon < 0 ? '' : userinfo.slice(colon + 1));
  return { ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

function parseHosts(list: string, defaultPort: number, masked: string): HostPort[] {
  if (!list) throw invalid(masked, 'no host given');
  return list.split(',').map((entry) => {
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry.trim());
    if (!match) throw invalid(masked, `cannot read host '${entry}'`);
    const port = match[2] === undefined ? defaultPort : Number(match[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(masked, `bad port in '${entry}'`);
    return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
  });
}

function parseDb(text: string | undefined, masked: string): number {
  if (text === undefined || text === '') return 0;
  if (!/^\d+$/.test(text)) throw invalid(masked, `the database must be a number, got '${text}'`);
  return Number(text);
}

/**
 * The query's options, percent-decoded. Not URLSearchParams: it reads `+` as a space, which would change
 * a password that contains one.
 */
function parseQuery(query: string, masked: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = equals < 0 ? pair : pair.slice(0, equals);
    if (!OPTIONS.includes(name)) throw invalid(masked, `unknown option '${name}' (supported: ${OPTIONS.join(', ')})`);
    try {
      options.set(name, decodeURIComponent(equals < 0 ? '' : pair.slice(equals + 1)));
    } catch {
      throw invalid(masked, `the value of '${name}' is not percent-encoded correctly`);
    }
  }
  return options;
}

function parseTlsOptions(options: Map<string, string>, tls: boolean, masked: string): TlsOptions | undefined {
  const given = TLS_OPTIONS.filter((name) => options.has(name));
  if (given.length === 0) return undefined;
  if (!tls) throw invalid(masked, `'${given[0]}' needs a TLS URL (rediss://, rediss+sentinel://, rediss+cluster://)`);
  const certFile = options.get('ssl_certfile') || undefined;
  const keyFile = options.get('ssl_keyfile') || undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw invalid(masked, 'ssl_certfile and ssl_keyfile go together');
  const reqs = (options.get('ssl_cert_reqs') ?? 'required').toLowerCase().replace(/^cert_/, '');
  if (!['required', 'optional', 'none'].includes(reqs)) {
    throw invalid(masked, `ssl_cert_reqs must be required, optional or none (or CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE), got '${options.get('ssl_cert_reqs')}'`);
  }
  const caFile = options.get('ssl_ca_certs') || undefined;
  return { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile, keyFile } : {}), verify: reqs !== 'none' };
}

function parsePrefix(value: string | undefined, masked: string): string {
  const prefix = value ?? DEFAULT_PREFIX;
  if (!/^[A-Za-z0-9._:-]+$/.test(prefix)) {
    throw invalid(masked, `prefix '${prefix}' may use only letters, digits and . _ : -`);
  }
  return prefix;
}

function parseSocketTimeout(value: string | undefined, masked: string): number {
  if (value === undefined) return DEFAULT_SOCKET_TIMEOUT_MS;
  const ms = /^\d+(\.\d+)?$/.test(value) ? Math.round(Number(value) * 1_000) : NaN;
  if (!(ms >= MIN_SOCKET_TIMEOUT_MS)) {
    throw invalid(masked, `socket_timeout is in seconds, at least ${MIN_SOCKET_TIMEOUT_MS / 1_000}, got '${value}'`);
  }
  return ms;
}

function invalid(masked: string, why: string): BrokerError {
  return new BrokerError(`invalid Redis broker URL '${masked}': ${why}`);
}
