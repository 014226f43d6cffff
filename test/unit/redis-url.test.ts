// Redis broker URLs: every documented form parses, mistakes are named, passwords never shown; servers too old are refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskUrl } from '../../src/broker/connect.js';
import { assertSupportedServer } from '../../src/brokers/redis/connection.js';
import { inboxWaitSeconds } from '../../src/brokers/redis/handoff.js';
import { DEFAULT_SOCKET_TIMEOUT_MS, parseRedisUrl } from '../../src/brokers/redis/url.js';
import { BrokerError } from '../../src/errors.js';

const parse = (url: string) => parseRedisUrl(url, maskUrl(url));

describe('Redis broker URLs', () => {
  it('reads a standalone URL with defaults', () => {
    assert.deepEqual(parse('redis://localhost'), {
      mode: 'standalone',
      host: 'localhost',
      port: 6379,
      db: 0,
      tls: false,
      prefix: 'celeriac',
      socketTimeoutMs: DEFAULT_SOCKET_TIMEOUT_MS,
    });
  });

  it('reads password, ACL user, port, database, prefix and TLS', () => {
    assert.deepEqual(parse('rediss://app:p%40ss@cache.example.com:6380/3?prefix=jobs'), {
      mode: 'standalone',
      host: 'cache.example.com',
      port: 6380,
      db: 3,
      tls: true,
      username: 'app',
      password: 'p@ss',
      prefix: 'jobs',
      socketTimeoutMs: DEFAULT_SOCKET_TIMEOUT_MS,
    });
    const target = parse('redis://:secret@127.0.0.1:7000');
    assert.equal(target.password, 'secret');
    assert.equal(target.username, undefined);
  });

  it('reads IPv6 hosts', () => {
    const target = parse('redis://[::1]:6390');
    assert.ok(target.mode === 'standalone');
    assert.equal(target.host, '::1');
    assert.equal(target.port, 6390);
  });

  it('reads a Sentinel URL: sentinels, master name and database', () => {
    assert.deepEqual(parse('redis+sentinel://:pw@s1:26379,s2,s3:26380/mymaster/2'), {
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: 's3', port: 26380 },
      ],
      masterName: 'mymaster',
      db: 2,
      tls: false,
      password: 'pw',
      prefix: 'celeriac',
      socketTimeoutMs: DEFAULT_SOCKET_TIMEOUT_MS,
    });
  });

  it("reads a Sentinel URL's credentials for the sentinels, and hides their password", () => {
    const url = 'redis+sentinel://:master-pw@s1/mymaster?sentinelUsername=watcher&sentinelPassword=a%2Bb+c%26d&prefix=p';
    const target = parse(url);
    assert.ok(target.mode === 'sentinel');
    assert.equal(target.password, 'master-pw');
    assert.equal(target.sentinelUsername, 'watcher');
    assert.equal(target.sentinelPassword, 'a+b+c&d', "percent-decoded; a '+' stays a '+'");
    assert.equal(target.prefix, 'p');
    assert.equal(maskUrl(url), 'redis+sentinel://:***@s1/mymaster?sentinelUsername=watcher&sentinelPassword=***&prefix=p');
  });

  it("reads a rediss URL's TLS options, as redis-py and Celery name them", () => {
    const target = parse('rediss://h?ssl_ca_certs=%2Fetc%2Fca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem&ssl_cert_reqs=CERT_REQUIRED');
    assert.deepEqual(target.tlsOptions, { caFile: '/etc/ca.pem', certFile: '/c.pem', keyFile: '/k.pem', verify: true });
    assert.deepEqual(parse('rediss+cluster://n1?ssl_cert_reqs=none').tlsOptions, { verify: false });
    assert.deepEqual(parse('rediss+sentinel://s1/m?ssl_cert_reqs=optional').tlsOptions, { verify: true }, 'a client checks either way, as in Python');
    assert.equal(parse('rediss://h').tlsOptions, undefined);
  });

  it('reads a Cluster URL', () => {
    assert.deepEqual(parse('rediss+cluster://n1:7000,n2:7001?prefix=x'), {
      mode: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      tls: true,
      prefix: 'x',
      socketTimeoutMs: DEFAULT_SOCKET_TIMEOUT_MS,
    });
  });

  it("reads socket_timeout in seconds, as redis-py names it; an inbox's blocking wait is half of it, 1-10 s", () => {
    assert.equal(parse('redis://h?socket_timeout=4').socketTimeoutMs, 4_000);
    assert.equal(parse('redis+cluster://n1?socket_timeout=2.5').socketTimeoutMs, 2_500);
    assert.equal(parse('rediss+sentinel://s1/m?socket_timeout=60').socketTimeoutMs, 60_000);
    assert.deepEqual([2_000, 2_500, 4_000, 20_000, 60_000].map(inboxWaitSeconds), [1, 1, 2, 10, 10]);
  });

  for (const [url, why] of [
    ['redis://h/abc', /database must be a number/],
    ['redis://h:99999', /bad port/],
    ['redis://a,b', /several hosts/],
    ['redis+sentinel://s1:26379', /names its master/],
    ['redis+cluster://n1:7000/1', /takes no path/],
    ['redis://h?prefix=a{b}', /prefix/],
    ['redis://h?db=1', /unknown option 'db'/],
    ['redis://h?sentinelPassword=x', /'sentinelPassword' is an option of redis\+sentinel:\/\/ URLs/],
    ['redis+sentinel://s1/m?sentinelPassword=%E0%A4%A', /not percent-encoded correctly/],
    ['redis://h?ssl_ca_certs=/ca.pem', /'ssl_ca_certs' needs a TLS URL/],
    ['rediss://h?ssl_certfile=/c.pem', /ssl_certfile and ssl_keyfile go together/],
    ['rediss://h?ssl_cert_reqs=maybe', /ssl_cert_reqs must be required, optional or none/],
    ['redis://h?socket_timeout=1', /socket_timeout is in seconds, at least 2, got '1'/],
    ['redis://h?socket_timeout=20s', /socket_timeout is in seconds/],
    ['redis://h?socket_timeout=', /socket_timeout is in seconds/],
  ] as const) {
    it(`rejects ${url} with a clear error`, () => {
      assert.throws(() => parse(url), (error: unknown) => error instanceof BrokerError && why.test(error.message));
    });
  }

  it('never puts the password in an error', () => {
    assert.throws(
      () => parse('redis://:hunter2@h/zz'),
      (error: unknown) => error instanceof Error && !error.message.includes('hunter2') && error.message.includes('***'),
    );
  });
});

describe('Redis server check', () => {
  it('refuses a server older than Redis 7 with a clear error, and accepts 7 and unknown flavours', () => {
    assert.throws(
      () => assertSupportedServer('# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n', 'redis://h:6379'),
      (error: Error) => error instanceof BrokerError && /runs Redis 6\.2\.14; Celeriac needs Redis 7\.0 or newer/.test(error.message),
    );
    assert.doesNotThrow(() => assertSupportedServer('# Server\r\nredis_version:7.0.15\r\n', 'redis://h:6379'));
    assert.doesNotThrow(() => assertSupportedServer('# Server\r\nsome_other_server:1\r\n', 'redis://h:6379'));
  });
});
