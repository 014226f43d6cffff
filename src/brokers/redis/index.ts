// The Redis broker (`redis://`, `rediss://`, `redis+sentinel://`, `redis+cluster://`).
export { RedisBroker } from './redis-broker.js';
