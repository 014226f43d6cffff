-- Stores a new task. Fails on tasks_key if an unfinished task of the same queue holds the same
-- idempotency key.
-- Positional parameters (the hottest statement; about 20% faster to bind than named ones), in order:
-- id, name, queue, state, priority, seq, input, execution, max_retries, created_at, run_at, ready_at,
-- expires_at, idem_key.
INSERT INTO tasks (id, name, queue, state, priority, seq, input, execution, max_retries,
                   created_at, run_at, ready_at, expires_at, idem_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
