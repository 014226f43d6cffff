-- Tasks matching optional filters, oldest first (created in the same millisecond: by id, which is creation
-- order for the UUIDv7 ids Celeriac makes, as on Redis).
SELECT * FROM tasks
WHERE (@state IS NULL OR state = @state)
  AND (@queue IS NULL OR queue = @queue)
  AND (@name IS NULL OR name = @name)
ORDER BY created_at, id
LIMIT @limit
