// Broker cases: the worker registry, and events reaching subscribers of any instance and process.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { CeleriacEvent } from '../../../src/index.js';
import { recordBroker } from '../../support/events.js';
import { runFixture } from '../../support/run-fixture.js';
import { enqueueOne, KEEP_EVERYTHING, leaseRequest, workerInfo } from './records.js';
import type { Cases } from './world.js';

const PRODUCER = fileURLToPath(new URL('../../fixtures/conformance-producer.ts', import.meta.url));

function heartbeat(workerId: string, processed: number): CeleriacEvent {
  return { type: 'worker.heartbeat', workerId, timestamp: Date.now(), active: 0, processed, failed: 0 };
}

const processedOf = (event: CeleriacEvent) => (event.type === 'worker.heartbeat' ? event.processed : -1);

export function brokerRegistryEventCases(cases: Cases): void {
  cases.case('the worker registry registers, records heartbeats, lists and unregisters workers', async (world) => {
    const broker = await world.broker();
    assert.deepEqual(await broker.listWorkers(), []);
    const w1 = workerInfo('w1', { queues: ['a', 'b'], concurrency: 8, tasks: ['t.one', 't.two'] });
    await broker.registerWorker(w1);
    await broker.registerWorker(workerInfo('w2'));
    const listed = await broker.listWorkers();
    assert.deepEqual(listed.map((w) => w.id).sort(), ['w1', 'w2']);
    const got = listed.find((w) => w.id === 'w1')!;
    assert.equal(got.name, w1.name);
    assert.equal(got.hostname, 'host');
    assert.equal(got.pid, 4242);
    assert.deepEqual(got.queues, ['a', 'b']);
    assert.equal(got.concurrency, 8);
    assert.deepEqual(got.tasks, ['t.one', 't.two']);
    assert.equal(got.heartbeatInterval, 2_000);
    assert.equal(got.startedAt.getTime(), w1.startedAt.getTime());

    const events = await recordBroker(broker);
    world.defer(() => events.stop());
    const beat = w1.heartbeatAt.getTime() + 1_500;
    await broker.heartbeat('w1', { active: 2, processed: 5, failed: 1 }, beat);
    const after = (await broker.listWorkers()).find((w) => w.id === 'w1')!;
    assert.equal(after.heartbeatAt.getTime(), beat);
    assert.deepEqual([after.active, after.processed, after.failed], [2, 5, 1]);
    const [announced] = await events.waitFor((e) => e.type === 'worker.heartbeat', 1);
    assert.deepEqual(announced, { type: 'worker.heartbeat', workerId: 'w1', timestamp: beat, active: 2, processed: 5, failed: 1 });

    await broker.unregisterWorker('w1', beat);
    assert.deepEqual((await broker.listWorkers()).map((w) => w.id), ['w2']);
  });

  cases.case('prune drops workers silent for longer than retention', async (world) => {
    const broker = await world.broker();
    const now = Date.now();
    await broker.registerWorker(workerInfo('silent', { heartbeatAt: new Date(now - 100_000) }));
    await broker.registerWorker(workerInfo('alive', { heartbeatAt: new Date(now) }));
    await broker.prune(now, { ...KEEP_EVERYTHING, workerTtlMs: 50_000 });
    assert.deepEqual((await broker.listWorkers()).map((w) => w.id), ['alive']);
  });

  cases.case('subscribers receive events published after subscribing, in order', async (world) => {
    const broker = await world.broker();
    await broker.publish([heartbeat('before', 0)]);
    const first = await recordBroker(broker);
    const second = await recordBroker(broker);
    world.defer(() => first.stop());
    world.defer(() => second.stop());

    const id = await enqueueOne(broker, { name: 'conformance.evented', queue: 'q', priority: 7 });
    await broker.lease(leaseRequest('w1', { queues: ['q'] }));
    await broker.publish([heartbeat('w1', 1), heartbeat('w1', 2)]);
    await broker.settle([{ kind: 'complete', taskId: id, workerId: 'w1', result: 1, now: Date.now() }]);
    await broker.publish([heartbeat('w1', 3)]);

    const expected = ['task.queued', 'task.started', 'worker.heartbeat', 'worker.heartbeat', 'task.completed', 'worker.heartbeat'];
    for (const recorder of [first, second]) {
      const events = await recorder.waitFor(() => true, expected.length);
      assert.deepEqual(events.map((e) => e.type), expected);
      assert.deepEqual(events.filter((e) => e.type === 'worker.heartbeat').map(processedOf), [1, 2, 3]);
    }
    assert.ok(!first.events.some((e) => e.type === 'worker.heartbeat' && e.workerId === 'before'));
    const queued = first.events[0]!;
    assert.ok(queued.type === 'task.queued');
    assert.equal(queued.taskId, id);
    assert.equal(queued.name, 'conformance.evented');
    assert.equal(queued.queue, 'q');
    assert.equal(queued.priority, 7);
    assert.equal(typeof queued.timestamp, 'number');
    const started = first.events[1]!;
    assert.ok(started.type === 'task.started');
    assert.equal(started.workerId, 'w1');
    assert.equal(started.attempt, 1);
  });

  cases.case('subscribers receive events written by another broker instance on the same URL, in order', async (world) => {
    const here = await world.broker();
    const there = await world.broker();
    const local = await recordBroker(here);
    const remote = await recordBroker(there);
    world.defer(() => local.stop());
    world.defer(() => remote.stop());

    await there.publish([heartbeat('w', 1)]);
    await here.publish([heartbeat('w', 2)]);
    const id = await enqueueOne(there, { name: 'conformance.elsewhere' });
    await there.publish([heartbeat('w', 3)]);

    for (const recorder of [local, remote]) {
      const events = await recorder.waitFor(() => true, 4);
      assert.deepEqual(events.map((e) => e.type), ['worker.heartbeat', 'worker.heartbeat', 'task.queued', 'worker.heartbeat']);
      assert.deepEqual(events.filter((e) => e.type === 'worker.heartbeat').map(processedOf), [1, 2, 3]);
      assert.equal(events[2]?.type === 'task.queued' && events[2].taskId, id);
    }
    assert.equal((await here.getTask(id))?.name, 'conformance.elsewhere', 'one store behind both instances');
  });

  cases.case('subscribers receive events written by another process', async (world) => {
    const broker = await world.broker();
    const events = await recordBroker(broker);
    world.defer(() => events.stop());
    const run = await runFixture(PRODUCER, [world.url]);
    assert.equal(run.code, 0, `producer failed:\n${run.stderr}`);
    const id = run.stdout.trim();
    const event = await events.waitForTask(id, 'task.queued');
    assert.ok(event.type === 'task.queued');
    assert.equal(event.name, 'conformance.from-child');
    assert.equal(event.queue, 'from-child');
    const input = (await broker.getTask(id))?.input as { pid?: unknown } | undefined;
    assert.equal(typeof input?.pid, 'number');
  });

  cases.case('an unsubscribed listener receives nothing more, and a throwing one does not stop the others', async (world) => {
    const broker = await world.broker();
    const leaving = await recordBroker(broker);
    const throwing = broker.subscribe(() => {
      throw new Error('a buggy subscriber');
    });
    world.defer(throwing);
    const staying = await recordBroker(broker);
    world.defer(() => staying.stop());

    await broker.publish([heartbeat('w', 1)]);
    await leaving.waitFor(() => true, 1);
    await staying.waitFor(() => true, 1);
    leaving.stop();
    await broker.publish([heartbeat('w', 2)]);
    const got = await staying.waitFor(() => true, 2);
    assert.deepEqual(got.map(processedOf), [1, 2]);
    assert.deepEqual(leaving.events.map(processedOf), [1]);
  });
}
