// Records events from a broker or an app so a test can wait for them (with a deadline) and then read
// the whole sequence back. Subscribe before acting; never sleep to wait for an event.
import type { Broker, Celeriac, CeleriacEvent } from '../../src/index.js';

type Match = (event: CeleriacEvent) => boolean;

interface Waiter {
  match: Match;
  count: number;
  resolve: (events: CeleriacEvent[]) => void;
}

export class EventRecorder {
  /** Every event received so far, in the order of delivery. */
  readonly events: CeleriacEvent[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly unsubscribe: () => void;

  constructor(subscribe: (listener: (event: CeleriacEvent) => void) => () => void) {
    this.unsubscribe = subscribe((event) => {
      this.events.push(event);
      for (const waiter of [...this.waiters]) this.check(waiter);
    });
  }

  /** Events received so far that match. */
  matching(match: Match): CeleriacEvent[] {
    return this.events.filter(match);
  }

  /** Events about one task, in order. */
  ofTask(taskId: string): CeleriacEvent[] {
    return this.matching((event) => 'taskId' in event && event.taskId === taskId);
  }

  /** Resolves with the first `count` matching events (already received or still to come). */
  waitFor(match: Match, count = 1, timeoutMs = 10_000, what = 'matching events'): Promise<CeleriacEvent[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const seen = this.matching(match).length;
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} ${what} (saw ${seen})`));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        count,
        resolve: (events) => {
          clearTimeout(timer);
          resolve(events);
        },
      };
      this.waiters.add(waiter);
      this.check(waiter);
    });
  }

  /** Resolves with the first event of `type` about `taskId`. */
  async waitForTask(taskId: string, type: CeleriacEvent['type'], timeoutMs = 10_000): Promise<CeleriacEvent> {
    const [event] = await this.waitFor(
      (e) => e.type === type && 'taskId' in e && e.taskId === taskId,
      1,
      timeoutMs,
      `'${type}' events of task ${taskId}`,
    );
    return event!;
  }

  stop(): void {
    this.unsubscribe();
    this.waiters.clear();
  }

  private check(waiter: Waiter): void {
    const found = this.matching(waiter.match);
    if (found.length < waiter.count) return;
    this.waiters.delete(waiter);
    waiter.resolve(found.slice(0, waiter.count));
  }
}

/**
 * Records every event a broker delivers to a subscriber opened now; resolves once the broker hears
 * events of every process (Broker.subscribed), so that what any process does next is recorded.
 */
export async function recordBroker(broker: Broker): Promise<EventRecorder> {
  const recorder = new EventRecorder((listener) =>
    broker.subscribe((events) => {
      for (const event of events) listener(event);
    }),
  );
  await broker.subscribed?.();
  return recorder;
}

/**
 * Records every event an app's subscription delivers; resolves once the subscription (opened when the
 * broker is connected) hears events of every process.
 */
export async function recordApp(app: Celeriac): Promise<EventRecorder> {
  const recorder = new EventRecorder((listener) => app.on('*', listener));
  await app.subscribed();
  return recorder;
}
