// rediss:// against a real redis-server that only speaks TLS, with a CA and certificates the test makes
// with openssl. A producer and a worker that trust the CA enqueue and run a task: trusting it through the
// URL's ssl_ca_certs (redis-py's and Celery's option) straight to the server, through a sentinel that also
// speaks only TLS (rediss+sentinel://) and on a TLS-only three-master Cluster (rediss+cluster://), and in
// a process that trusts it through NODE_EXTRA_CA_CERTS. A server that asks for client certificates takes
// one given with ssl_certfile and ssl_keyfile. A process that does not trust the CA gets a clear
// BrokerError about the certificate, unless ssl_cert_reqs=none.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { BrokerError, Celeriac } from '../../src/index.js';
import { Children } from '../support/processes.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { freePort, spawnRedis, startRedisServer, stopChild, type RedisServer } from '../support/redis-server.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/tls-roundtrip.ts', import.meta.url));
const children = new Children();
let dir: string;
let server: RedisServer;
let sentinel: ChildProcess | undefined;
let url: string;
let mutualUrl: string;
let mutual: RedisServer;
let sentinelUrl: string;
let cluster: RedisCluster | undefined;
let clusterUrl: string;

/** A CA, and a certificate it signed for localhost and 127.0.0.1 (P-256 keys: quick to make). */
function makeCertificates(into: string): void {
  const openssl = (...args: string[]) => {
    try {
      return execFileSync('openssl', args, { cwd: into, stdio: 'pipe' });
    } catch (error) {
      throw new Error(`openssl ${args[0]} failed (the TLS test needs openssl: apt-get install openssl): ${(error as Error).message}`);
    }
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=celeriac test CA');
  openssl('req', ...key, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(into, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  // A client certificate, for a server that asks for one.
  openssl('req', ...key, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=celeriac test client');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2');
}

/** The CA as a URL option. */
const trustCa = () => `&ssl_ca_certs=${encodeURIComponent(join(dir, 'ca.crt'))}`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'celeriac-tls-'));
  makeCertificates(dir);
  const port = await freePort();
  server = await startRedisServer({
    args: [
      '--port', '0', // TLS only
      '--tls-port', String(port),
      '--tls-cert-file', join(dir, 'server.crt'),
      '--tls-key-file', join(dir, 'server.key'),
      '--tls-ca-cert-file', join(dir, 'ca.crt'),
      '--tls-auth-clients', 'no',
    ],
  });
  url = `rediss://localhost:${port}?prefix=tls`;
  const mutualPort = await freePort();
  mutual = await startRedisServer({
    args: [
      '--port', '0',
      '--tls-port', String(mutualPort),
      '--tls-cert-file', join(dir, 'server.crt'),
      '--tls-key-file', join(dir, 'server.key'),
      '--tls-ca-cert-file', join(dir, 'ca.crt'),
      '--tls-auth-clients', 'yes', // Clients must show a certificate the CA signed.
    ],
  });
  mutualUrl = `rediss://localhost:${mutualPort}?prefix=tls-mutual${trustCa()}`;

  // A sentinel that only speaks TLS, and talks TLS to the master (tls-replication).
  const sentinelPort = await freePort();
  const tls = (name: string) => join(dir, name);
  writeFileSync(
    join(dir, 'sentinel.conf'),
    [
      'port 0',
      `tls-port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `tls-cert-file ${tls('server.crt')}`,
      `tls-key-file ${tls('server.key')}`,
      `tls-ca-cert-file ${tls('ca.crt')}`,
      'tls-auth-clients no',
      'tls-replication yes',
      `sentinel monitor mymaster 127.0.0.1 ${port} 1`,
      '',
    ].join('\n'),
  );
  sentinel = await spawnRedis([join(dir, 'sentinel.conf'), '--sentinel'], /\+monitor master/);
  sentinelUrl = `rediss+sentinel://localhost:${sentinelPort}/mymaster?prefix=tls-sentinel`;

  cluster = await startRedisCluster({ tls: { cert: tls('server.crt'), key: tls('server.key'), ca: tls('ca.crt') } });
  clusterUrl = `rediss+cluster://${cluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(',')}?prefix=tls-cluster`;
});

after(async () => {
  await children.killAll();
  if (sentinel) await stopChild(sentinel);
  await cluster?.stop();
  await server?.stop();
  await mutual?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Enqueues a task and runs it with a worker of the same app; returns the result. */
async function roundTrip(brokerUrl: string): Promise<unknown> {
  const app = new Celeriac({ broker: brokerUrl, logger: pino({ level: 'silent' }) });
  app.task({ name: 'tls.echo', run: (input: { text: string }) => input.text.toUpperCase() });
  const worker = app.worker({ handleSignals: false });
  try {
    await worker.start();
    return await (await app.enqueue('tls.echo', { text: 'over tls' })).result({ timeout: '10s' });
  } finally {
    await worker.close();
    await app.close();
  }
}

/** What opening `brokerUrl` fails with, which must be a BrokerError. */
async function openingError(brokerUrl: string): Promise<BrokerError> {
  const app = new Celeriac({ broker: brokerUrl, logger: pino({ level: 'silent' }) });
  try {
    const error = await app.enqueue('tls.echo', { text: 'x' }).then(
      () => assert.fail('enqueue should have failed'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof BrokerError, `expected a BrokerError, got ${String(error)}`);
    return error;
  } finally {
    await app.close().catch(() => undefined);
  }
}

for (const [scheme, brokerUrl] of [
  ['rediss://', () => url],
  ['rediss+sentinel://', () => sentinelUrl],
  ['rediss+cluster://', () => clusterUrl],
] as const) {
  test(`a producer and a worker that trust the CA through ssl_ca_certs enqueue and run a task over ${scheme}`, async () => {
    assert.equal(await roundTrip(`${brokerUrl()}${trustCa()}`), 'OVER TLS');
  });
}

test('a process that trusts the CA through NODE_EXTRA_CA_CERTS enqueues and runs a task over rediss://', async () => {
  const child = children.start(process.execPath, ['--import', 'tsx', FIXTURE, url], { NODE_EXTRA_CA_CERTS: join(dir, 'ca.crt') });
  const line = await child.waitFor(
    'the task result',
    () => child.stdoutLines().find((entry): entry is { result: string } => typeof entry === 'object' && entry !== null && 'result' in entry),
    30_000,
  );
  assert.deepEqual(line, { result: 'OVER TLS' });
  assert.equal((await child.waitForExit(15_000)).code, 0);
});

test('a server that asks for a client certificate takes the one given by ssl_certfile and ssl_keyfile', async () => {
  const withCertificate = `${mutualUrl}&ssl_certfile=${encodeURIComponent(join(dir, 'client.crt'))}&ssl_keyfile=${encodeURIComponent(join(dir, 'client.key'))}`;
  assert.equal(await roundTrip(withCertificate), 'OVER TLS');
  // Without one, the server drops the connection once the handshake is done (TLS 1.3).
  assert.match((await openingError(mutualUrl)).message, /if it requires client certificates, give one with ssl_certfile and ssl_keyfile|requires a client certificate/);
});

test('ssl_cert_reqs=none connects without checking the certificate; an unreadable ssl_ca_certs file is named', async () => {
  assert.equal(await roundTrip(`${url}&ssl_cert_reqs=none`), 'OVER TLS');
  const error = await openingError(`${url}&ssl_ca_certs=${encodeURIComponent(join(dir, 'missing.crt'))}`);
  assert.match(error.message, /cannot read the ssl_ca_certs file '.*missing\.crt'/);
});

test('a process that does not trust the certificate gets a clear BrokerError', async () => {
  assert.match((await openingError(url)).message, /certificate/i);
});
