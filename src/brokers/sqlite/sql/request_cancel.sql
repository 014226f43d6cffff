-- Asks the worker running a task to abort it.
UPDATE tasks SET cancel_requested = 1
WHERE id = @id AND state = 'active'
RETURNING name, queue, worker_id
