// The conformance suite on the embedded SQLite broker: each case gets a database file in a fresh
// temporary directory, so cases never share state and other processes can open the same file.
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { runBrokerConformance } from './broker-suite.js';

runBrokerConformance({
  name: 'sqlite',
  newUrl: async () => {
    const dir = tempDir('celeriac-conformance-');
    return { url: `sqlite:${join(dir.path, 'broker.db')}`, cleanup: dir.cleanup };
  },
  skip: {
    'maintenance leadership: one holder at a time, renewed by its holder, free at once when released':
      'SQLite elects no leader: the processes sharing a database file all run maintenance, whose operations are idempotent',
    ...Object.fromEntries(
      [
        'hand-off: a task enqueued while a worker waits idle is leased to it and arrives in its inbox',
        'hand-off: never more than the room the lease left, never ahead of a waiting task',
        'hand-off: each attempt the worker ends gives back the room its task took',
        'hand-off: a lapsed registration, or one ended by a full lease, hands nothing',
        'hand-off: closing an inbox returns what was handed before, then null, and hands nothing more',
        'hand-off: a task handed to a worker that never takes it returns to its queue when its lease expires',
        'hand-off: a worker of several queues waits on one inbox and receives the tasks of each',
        'hand-off: a worker of several queues registers once all are empty, with the room the whole lease left',
      ].map((name) => [
        name,
        'the SQLite broker offers no hand-off: a worker hears of a commit from the database file within a millisecond and leases in-process, without a network round trip to save',
      ]),
    ),
  },
});
