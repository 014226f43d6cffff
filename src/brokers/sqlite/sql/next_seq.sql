-- Reserves @count FIFO positions; returns the last one reserved.
UPDATE meta SET value = value + @count WHERE key = 'seq' RETURNING value
