// The event log: each write transaction appends its events as one row; subscribers in any process
// tail the table. A change to the database file (inotify through fs.watch) or a local commit wakes the
// tail at once; a slow poll covers file systems without change notification.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { EventListener, SubscribeOptions } from '../../broker/broker.js';
import { kindBit, kindMask } from '../../event-kinds.js';
import type { CeleriacEvent } from '../../events.js';
import type { Statements } from './database.js';
import { decodeBatch, encodeBatch } from '../../broker/event-batch.js';

const TAIL_BATCH = 500;
const FALLBACK_POLL_MS = 500;
/**
 * A change notification can arrive before the commit it announces is visible: inotify fires on the
 * write() of the WAL frames, while readers see the commit once the WAL index (shared memory, which
 * raises no notification) is updated a moment later. So each notification also schedules a second
 * look this much later, or a missed commit would wait for the fallback poll.
 */
const TRAILING_TAIL_MS = 5;

export class EventLog {
  /** Each listener with the mask of event kinds it wants. */
  private readonly listeners = new Map<EventListener, number>();
  private wanted = 0;
  private pending: CeleriacEvent[] = [];
  private pendingKinds = 0;
  private lastSeen = 0;
  private tailScheduled = false;
  private trailingTail: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly statements: Statements,
    /** The database file, or `:memory:` when only this process can see it. */
    private readonly path: string,
  ) {}

  /** Queues an event to be written by the surrounding transaction's {@link flush}. */
  add(event: CeleriacEvent): void {
    this.pending.push(event);
    this.pendingKinds |= kindBit(event.type);
  }

  /** Writes the events added during this transaction as one row. Call inside the transaction. */
  flush(now: number): void {
    if (this.pending.length === 0) return;
    this.statements.get('append_events').run({ at: now, kinds: this.pendingKinds, batch: encodeBatch(this.pending) });
    this.pending = [];
    this.pendingKinds = 0;
  }

  /** Drops events of a transaction that rolled back. */
  discard(): void {
    this.pending = [];
    this.pendingKinds = 0;
  }

  /** Called after a commit that wrote events: delivers them to local subscribers soon. */
  committed(): void {
    if (this.listeners.size > 0) this.scheduleTail();
  }

  subscribe(listener: EventListener, options: SubscribeOptions = {}): () => void {
    if (this.listeners.size === 0) this.startWatching();
    this.listeners.set(listener, kindMask(options.types));
    this.updateWanted();
    return () => {
      if (!this.listeners.delete(listener)) return;
      this.updateWanted();
      if (this.listeners.size === 0) this.stopWatching();
    };
  }

  private updateWanted(): void {
    this.wanted = 0;
    for (const mask of this.listeners.values()) this.wanted |= mask;
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.stopWatching();
  }

  private startWatching(): void {
    this.lastSeen = this.statements.get('last_event_id').get()!.id as number;
    if (this.path !== ':memory:') {
      const file = basename(this.path);
      try {
        this.watcher = watch(dirname(this.path), { persistent: false }, (_type, changed) => {
          if (!changed || changed.toString().startsWith(file)) this.onFileChanged();
        });
        this.watcher.on('error', () => this.stopWatcherOnly());
      } catch {
        this.watcher = undefined; // No change notification here: the poll below still delivers.
      }
      this.poller = setInterval(() => this.scheduleTail(), FALLBACK_POLL_MS);
      this.poller.unref();
    }
  }

  private stopWatcherOnly(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private stopWatching(): void {
    this.stopWatcherOnly();
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    if (this.trailingTail) clearTimeout(this.trailingTail);
    this.trailingTail = undefined;
  }

  private onFileChanged(): void {
    this.scheduleTail();
    if (this.trailingTail) return;
    this.trailingTail = setTimeout(() => {
      this.trailingTail = undefined;
      this.scheduleTail();
    }, TRAILING_TAIL_MS);
    this.trailingTail.unref();
  }

  private scheduleTail(): void {
    if (this.tailScheduled || this.closed) return;
    this.tailScheduled = true;
    setImmediate(() => {
      this.tailScheduled = false;
      if (!this.closed && this.listeners.size > 0) this.tail();
    });
  }

  private tail(): void {
    for (;;) {
      const rows = this.statements
        .get('events_after')
        .all({ after: this.lastSeen, kinds: this.wanted, limit: TAIL_BATCH });
      for (const row of rows) {
        this.lastSeen = row.id as number;
        const kinds = row.kinds as number;
        if (row.batch === null) continue;
        let events: CeleriacEvent[];
        try {
          events = decodeBatch(row.batch as string);
        } catch {
          continue; // A damaged event row must not stop delivery of the rest.
        }
        for (const [listener, mask] of [...this.listeners]) {
          if ((mask & kinds) === 0) continue;
          try {
            listener(events);
          } catch {
            // A subscriber's bug is its own; the others still get the events.
          }
        }
      }
      if (rows.length < TAIL_BATCH) return;
    }
  }
}
