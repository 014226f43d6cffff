-- The state of one task.
SELECT state FROM tasks WHERE id = @id
