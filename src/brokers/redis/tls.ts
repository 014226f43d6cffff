// The TLS settings of a rediss URL's connections: its `ssl_*` options (url.ts), with the files they
// name read once, when the broker opens, and shared by every connection (servers, sentinels, nodes).
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { BrokerError } from '../../errors.js';
import type { RedisTarget } from './url.js';

/** What every TLS connection of a broker uses, beside the server name: the URL's `ssl_*` options, files read. */
export type TlsSettings = Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;

/** Reads the files a rediss URL names (once, when the broker opens); an unreadable one is a BrokerError naming it. */
export function readTlsSettings(target: RedisTarget, masked: string): TlsSettings | undefined {
  if (!target.tls) return undefined;
  const options = target.tlsOptions;
  if (!options) return {};
  const read = (option: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new BrokerError(`cannot use the Redis broker at ${masked}: cannot read the ${option} file '${path}' (${(error as Error).message})`);
    }
  };
  const ca = read('ssl_ca_certs', options.caFile);
  const cert = read('ssl_certfile', options.certFile);
  const key = read('ssl_keyfile', options.keyFile);
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(options.verify ? {} : { rejectUnauthorized: false }) };
}

