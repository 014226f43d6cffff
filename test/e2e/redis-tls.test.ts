// rediss:// against a real redis-server that only speaks TLS, with a CA and a certificate the test
// makes with openssl: a producer and a worker that trust the CA (NODE_EXTRA_CA_CERTS, as a deployment
// with a private CA would) enqueue and run a task, straight to the server, through a sentinel that also
// speaks only TLS (rediss+sentinel://), and on a TLS-only three-master Cluster (rediss+cluster://); a
// process that does not trust it gets a clear BrokerError about the certificate.
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
}

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
  rmSync(dir, { recursive: true, force: true });
});

for (const [scheme, brokerUrl] of [
  ['rediss://', () => url],
  ['rediss+sentinel://', () => sentinelUrl],
  ['rediss+cluster://', () => clusterUrl],
] as const) {
  test(`a producer and a worker that trust the CA enqueue and run a task over ${scheme}`, async () => {
    const child = children.start(process.execPath, ['--import', 'tsx', FIXTURE, brokerUrl()], { NODE_EXTRA_CA_CERTS: join(dir, 'ca.crt') });
    const line = await child.waitFor(
      'the task result',
      () => child.stdoutLines().find((entry): entry is { result: string } => typeof entry === 'object' && entry !== null && 'result' in entry),
      30_000,
    );
    assert.deepEqual(line, { result: 'OVER TLS' });
    assert.equal((await child.waitForExit(15_000)).code, 0);
  });
}

test('a process that does not trust the certificate gets a clear BrokerError', async () => {
  const app = new Celeriac({ broker: url, logger: pino({ level: 'silent' }) });
  try {
    const error = await app.enqueue('tls.echo', { text: 'x' }).then(
      () => assert.fail('enqueue should have failed'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof BrokerError, `expected a BrokerError, got ${String(error)}`);
    assert.match(error.message, /certificate/i);
  } finally {
    await app.close().catch(() => undefined);
  }
});
