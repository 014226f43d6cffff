-- Removes a worker that went offline.
DELETE FROM workers WHERE id = @id
