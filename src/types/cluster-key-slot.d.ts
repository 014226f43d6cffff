// cluster-key-slot (the ioredis project's) ships no types: the one function fanout.ts uses.
declare module 'cluster-key-slot' {
  /** The Redis Cluster slot of a key (CRC16 of its hash tag, or of the whole key), 0-16383. */
  export default function calculateSlot(key: string | Buffer): number;
}
