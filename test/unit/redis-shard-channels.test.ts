// On a Redis Cluster, each queue's events go on shard channels of its own (keys.ts), and a broker
// instance's EventHub (events.ts) follows the known queues: which channels it joins and leaves, driven
// here through a stand-in subscriber connection so that each step is explicit (the Cluster cases of
// test/conformance/redis-cluster.test.ts run it against real shards).
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { EventHub, workChannelOf } from '../../src/brokers/redis/events.js';
import type { Client } from '../../src/brokers/redis/connection.js';
import { Keys } from '../../src/brokers/redis/keys.js';
import type { CeleriacEvent } from '../../src/events.js';

/** A subscriber connection that confirms every (un)subscription at once and records the channels it holds. */
class StandInSubscriber extends EventEmitter {
  readonly held = new Set<string>();
  /** Channels whose next subscription is refused, as ioredis does for a slot it has no connection for. */
  readonly refuse = new Set<string>();
  isCluster = true;
  status = 'ready';
  ssubscribe(...channels: string[]): Promise<number> {
    const refused = channels.filter((channel) => this.refuse.delete(channel));
    if (refused.length > 0) return Promise.reject(new Error(`No sharded subscriber for ${refused.join(', ')}`));
    for (const channel of channels) this.held.add(channel);
    return Promise.resolve(this.held.size);
  }
  sunsubscribe(...channels: string[]): Promise<number> {
    for (const channel of channels) this.held.delete(channel);
    return Promise.resolve(this.held.size);
  }
  subscribe(): Promise<number> {
    throw new Error('a Cluster hub subscribes to shard channels only');
  }
}

function world(known: string[]) {
  const subscriber = new StandInSubscriber();
  const keys = new Keys('p', true);
  const hub = new EventHub(subscriber as unknown as Client, keys, 20_000, () => Promise.resolve([...known]));
  /** Runs the hub's periodic read of the known queues once (it runs every RESYNC_MS on its own). */
  const resync = () => (hub as unknown as { sync(): Promise<void> }).sync();
  return { subscriber, keys, hub, resync };
}

const completed = (queue: string, id: string) =>
  `other:1 task.completed [[{"type":"task.completed","name":"t","queue":"${queue}","timestamp":1,"result":null,"durationMs":1},["${id}"]]]`;

describe('Redis Cluster: the shard channels of an event hub', () => {
  it('names each queue its own channels in its hash tag, and keeps worker events and notices in the prefix tag', () => {
    const keys = new Keys('p', true);
    assert.equal(keys.channelOf('q'), '{p:q}:events');
    assert.equal(keys.channel, '{p}:events');
    assert.equal(keys.queuesChannel, '{p}:events:queues');
    const one = new Keys('p');
    assert.equal(one.channelOf('q'), 'p:events');
    assert.equal(one.queuesChannel, undefined);
  });

  it('joins the channels of every known queue and of queues it is told of, and hears them', async () => {
    const known = ['a', 'b'];
    const { subscriber, hub } = world(known);
    const heard: CeleriacEvent[] = [];
    hub.subscribe((events) => heard.push(...events));
    await hub.subscribed();
    assert.deepEqual([...subscriber.held].sort(), ['{p:a}:events', '{p:b}:events', '{p}:events', '{p}:events:queues']);

    subscriber.emit('smessage', '{p}:events:queues', JSON.stringify(['c']));
    assert.ok(subscriber.held.has('{p:c}:events'), 'told of c: joined');
    subscriber.emit('smessage', '{p:c}:events', completed('c', 'x1'));
    assert.deepEqual(heard.map((event) => event.type === 'task.completed' && event.taskId), ['x1']);
  });

  it('a worker listener joins the work channels, its own queues at once, and hears nothing else', async () => {
    const { subscriber, hub } = world(['a']);
    hub.subscribe(() => undefined, { forWorker: true, queues: ['mine'] });
    await hub.subscribed();
    assert.deepEqual([...subscriber.held].sort(), ['{p:a}:events:work', '{p:mine}:events:work', '{p}:events:queues:work']);
  });

  it('leaves a queue missing from two reads in a row, never one a listener named, and joins it again when published to', async () => {
    const known = ['gone', 'kept'];
    const { subscriber, hub, resync } = world(known);
    const heard: CeleriacEvent[] = [];
    hub.subscribe((events) => heard.push(...events));
    hub.subscribe(() => undefined, { forWorker: true, queues: ['pinned'] });
    await hub.subscribed();
    assert.ok(subscriber.held.has('{p:gone}:events') && subscriber.held.has('{p:pinned}:events'));

    known.splice(0, known.length, 'kept'); // 'gone' was forgotten; 'pinned' was never named.
    await resync();
    assert.ok(subscriber.held.has('{p:gone}:events'), 'missing from one read: kept (it may be being added)');
    await resync();
    assert.ok(!subscriber.held.has('{p:gone}:events') && !subscriber.held.has(workChannelOf('{p:gone}:events')), 'missing twice: left');
    assert.ok(subscriber.held.has('{p:pinned}:events:work'), "a worker's own queue is never left");
    subscriber.emit('smessage', '{p:gone}:events', completed('gone', 'late'));
    assert.deepEqual(heard, [], 'nothing delivered from a channel left');

    const joining = hub.before(['gone']);
    assert.ok(joining, 'a call published to it again waits for its subscription');
    await joining;
    assert.ok(subscriber.held.has('{p:gone}:events'), 'published to again: joined before the call');
  });

  it('subscribes again at the next read to a channel whose subscription was refused', async () => {
    const { subscriber, hub, resync } = world(['a']);
    subscriber.refuse.add('{p:a}:events');
    hub.subscribe(() => undefined);
    await hub.subscribed();
    assert.ok(!subscriber.held.has('{p:a}:events'), 'refused');
    await resync();
    await hub.subscribed();
    assert.ok(subscriber.held.has('{p:a}:events'), 'subscribed at the next read');
  });

  it('joins nothing while nothing listens: a producer alone subscribes to no channel', async () => {
    const { subscriber, hub } = world(['a']);
    assert.equal(hub.beforeQueue('a'), undefined);
    await hub.subscribed();
    assert.equal(subscriber.held.size, 0);
  });
});
