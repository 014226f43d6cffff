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
  },
});
