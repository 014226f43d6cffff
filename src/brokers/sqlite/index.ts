// The embedded SQLite broker (`sqlite:<path>`, `sqlite::memory:`).
export { SqliteBroker } from './sqlite-broker.js';
