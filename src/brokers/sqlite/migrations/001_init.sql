-- Schema version 1: tasks, the event log, the worker registry and a counter for FIFO order.

CREATE TABLE tasks (
  id               TEXT PRIMARY KEY,
  name             TEXT    NOT NULL,
  queue            TEXT    NOT NULL,
  state            TEXT    NOT NULL,
  priority         INTEGER NOT NULL,
  -- FIFO position within a queue and priority; taken from meta.seq whenever the task becomes queued.
  seq              INTEGER NOT NULL,
  input            TEXT    NOT NULL,
  execution        TEXT    NOT NULL,
  max_retries      INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  -- When a scheduled or retrying task falls due (also kept afterwards as scheduledFor).
  run_at           INTEGER,
  -- When it last became ready to run: the start of its wait time.
  ready_at         INTEGER NOT NULL,
  expires_at       INTEGER,
  idem_key         TEXT,
  worker_id        TEXT,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  started_at       INTEGER,
  finished_at      INTEGER,
  progress         TEXT,
  result           TEXT,
  error            TEXT,
  errors           TEXT
);

-- Lease-next: one index seek per queue, whatever the number of tasks.
CREATE INDEX tasks_ready ON tasks (queue, priority DESC, seq) WHERE state = 'queued';
-- Promotion of due scheduled and retrying tasks.
CREATE INDEX tasks_due ON tasks (run_at) WHERE state IN ('scheduled', 'retrying');
-- Rescue of expired leases.
CREATE INDEX tasks_leases ON tasks (lease_expires_at) WHERE state = 'active';
-- Retention pruning, stats over recently finished tasks, and (covering) counts of finished tasks.
CREATE INDEX tasks_finished ON tasks (finished_at, queue, state) WHERE finished_at IS NOT NULL;
-- Expiry of queued tasks that were not started in time.
CREATE INDEX tasks_expiring ON tasks (expires_at) WHERE state = 'queued' AND expires_at IS NOT NULL;
-- Idempotency: one unfinished task per key.
CREATE UNIQUE INDEX tasks_key ON tasks (idem_key)
  WHERE idem_key IS NOT NULL AND state NOT IN ('completed', 'failed', 'cancelled');

-- One row per transaction that produced events: a JSON array of them.
CREATE TABLE events (
  id    INTEGER PRIMARY KEY AUTOINCREMENT,
  at    INTEGER NOT NULL,
  -- One bit per event type in the batch (see event-kinds.ts), so a tail can skip batches it ignores.
  kinds INTEGER NOT NULL,
  batch TEXT    NOT NULL
);

CREATE TABLE workers (
  id           TEXT PRIMARY KEY,
  info         TEXT    NOT NULL,
  heartbeat_at INTEGER NOT NULL
);

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('seq', 0);
