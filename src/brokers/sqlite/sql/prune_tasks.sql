-- Deletes finished tasks past retention, a batch at a time.
DELETE FROM tasks WHERE id IN (
  SELECT id FROM tasks WHERE finished_at IS NOT NULL AND finished_at < @before LIMIT @limit
)
