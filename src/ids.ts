// Task ids: UUID version 7 (time-ordered), so new rows land at the end of a broker's indexes.
import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
/** Random bytes, drawn 4 KiB at a time: 9 per id (the counter's start, then 8 for the last 62 bits). */
const pool = new Uint8Array(4096);
let poolAt = pool.length;
let lastMs = 0;
let counter = 0;

/**
 * A new UUIDv7 string: 48 bits of milliseconds, a 12-bit counter (ids made in one process in the same
 * millisecond still sort in creation order), then 62 random bits (variant bits set as RFC 9562 says).
 * Built from a pool of random bytes with table lookups: an enqueue on an idle process makes one, and
 * there every step it takes shows in the time until a worker starts the task.
 */
export function newTaskId(): string {
  if (poolAt + 9 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const r = poolAt;
  poolAt += 9;
  let now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = pool[r]!; // A random start keeps ids hard to guess.
  } else {
    now = lastMs;
    counter++;
    if (counter > 0xfff) {
      lastMs += 1;
      now = lastMs;
      counter = 0;
    }
  }
  const high = Math.floor(now / 0x10000); // The top 32 of the 48 time bits.
  const low = now % 0x10000;
  return (
    HEX[high >>> 24]! + HEX[(high >>> 16) & 0xff] + HEX[(high >>> 8) & 0xff] + HEX[high & 0xff] + '-' +
    HEX[low >>> 8] + HEX[low & 0xff] + '-7' + (counter >>> 8).toString(16) + HEX[counter & 0xff] + '-' +
    HEX[(pool[r + 1]! & 0x3f) | 0x80] + HEX[pool[r + 2]!] + '-' +
    HEX[pool[r + 3]!] + HEX[pool[r + 4]!] + HEX[pool[r + 5]!] + HEX[pool[r + 6]!] + HEX[pool[r + 7]!] + HEX[pool[r + 8]!]
  );
}

/** The creation time in milliseconds carried by a UUIDv7 (every id `newTaskId` makes); undefined for other ids. */
export function timeOfTaskId(id: string): number | undefined {
  if (id.length !== 36 || id[14] !== '7' || id[8] !== '-') return undefined;
  const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  return Number.isFinite(ms) ? ms : undefined;
}
