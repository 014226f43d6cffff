-- Deletes events past retention.
DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < @before LIMIT @limit)
