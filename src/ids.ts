// Task ids: UUID version 7 (time-ordered), so new rows land at the end of a broker's indexes.
import { randomUUID } from 'node:crypto';

let lastMs = 0;
let counter = 0;

/**
 * A new UUIDv7 string: 48 bits of milliseconds, a 12-bit counter (ids made in one process in the same
 * millisecond still sort in creation order), then the random bits of a v4 UUID (variant bits kept).
 */
export function newTaskId(): string {
  const random = randomUUID();
  let now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = Number.parseInt(random.slice(15, 17), 16); // A random start keeps ids hard to guess.
  } else {
    now = lastMs;
    counter++;
    if (counter > 0xfff) {
      lastMs += 1;
      now = lastMs;
      counter = 0;
    }
  }
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8)}-7${counter.toString(16).padStart(3, '0')}${random.slice(18)}`;
}

/** The creation time in milliseconds carried by a UUIDv7 (every id `newTaskId` makes); undefined for other ids. */
export function timeOfTaskId(id: string): number | undefined {
  if (id.length !== 36 || id[14] !== '7' || id[8] !== '-') return undefined;
  const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  return Number.isFinite(ms) ? ms : undefined;
}
