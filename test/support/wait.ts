// Test helpers that wait on events with a deadline, never on sleeps.
import type { Celeriac, CeleriacEvent } from '../../src/index.js';

/** Resolves with the first event matching `match`; rejects after `timeoutMs`. Subscribe before acting. */
export function nextEvent<E extends CeleriacEvent = CeleriacEvent>(
  app: Celeriac,
  match: (event: CeleriacEvent) => boolean,
  timeoutMs = 10_000,
): Promise<E> {
  return collectEvents<E>(app, match, 1, timeoutMs).then((events) => events[0]!);
}

/** Resolves with the first `count` events matching `match`; rejects after `timeoutMs`. */
export function collectEvents<E extends CeleriacEvent = CeleriacEvent>(
  app: Celeriac,
  match: (event: CeleriacEvent) => boolean,
  count: number,
  timeoutMs = 10_000,
): Promise<E[]> {
  const seen: E[] = [];
  let off: () => void = () => undefined;
  return new Promise<E[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms with ${seen.length}/${count} matching events`));
    }, timeoutMs);
    off = app.on('*', (event) => {
      if (!match(event) || seen.length >= count) return;
      seen.push(event as E);
      if (seen.length === count) {
        clearTimeout(timer);
        off();
        resolve(seen);
      }
    });
  });
}

/** Calls `check` whenever an event arrives (and once at the start) until it returns true. */
export async function until(app: Celeriac, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  let off: () => void = () => undefined;
  let done = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`condition not met within ${timeoutMs} ms`));
    }, timeoutMs);
    const evaluate = async () => {
      if (done) return;
      if (await check()) {
        done = true;
        clearTimeout(timer);
        off();
        resolve();
      }
    };
    off = app.on('*', () => void evaluate().catch(reject));
    void evaluate().catch(reject);
  });
}

/** `promise`, or a rejection naming `what` after `timeoutMs`: a wait in a test that cannot hang. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
