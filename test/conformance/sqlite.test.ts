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
});
