// Opens a broker from a URL. Each broker is loaded only when its scheme is used.
import { BrokerError } from '../errors.js';
import type { Broker } from './broker.js';

/** The broker used when neither the `broker` option nor `CELERIAC_BROKER_URL` names one. */
export const DEFAULT_BROKER_URL = 'sqlite:.celeriac/celeriac.db';

export function resolveBrokerUrl(url: string | undefined): string {
  return url || process.env.CELERIAC_BROKER_URL || DEFAULT_BROKER_URL;
}

/**
 * Opens the broker a URL names.
 * @example
 * const broker = await connectBroker('sqlite:./jobs.db');
 * const shared = await connectBroker('redis://:secret@localhost:6379/0?prefix=myapp');
 */
export async function connectBroker(url: string): Promise<Broker> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite': {
      const { SqliteBroker } = await import('../brokers/sqlite/index.js');
      return new SqliteBroker(url);
    }
    case 'redis':
    case 'rediss':
    case 'redis+sentinel':
    case 'rediss+sentinel':
    case 'redis+cluster':
    case 'rediss+cluster': {
      const { RedisBroker } = await import('../brokers/redis/index.js');
      return RedisBroker.connect(url, maskUrl(url));
    }
    default:
      throw new BrokerError(
        `unsupported broker URL '${maskUrl(url)}': expected sqlite:<path>, sqlite::memory:, redis://host:port[/db], ` +
          'rediss://…, redis+sentinel://… or redis+cluster://…',
      );
  }
}

/** Hides the passwords in a URL for logs and errors: the user's, and a Sentinel URL's `sentinelPassword`. */
export function maskUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@').replace(/([?&]sentinelPassword=)[^&#]*/g, '$1***');
}
