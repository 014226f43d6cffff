-- Tasks matching optional filters, oldest first.
SELECT * FROM tasks
WHERE (@state IS NULL OR state = @state)
  AND (@queue IS NULL OR queue = @queue)
  AND (@name IS NULL OR name = @name)
ORDER BY created_at, seq
LIMIT @limit
