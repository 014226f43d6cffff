-- Appends the events of one transaction as a JSON array, with a bitmask of their types.
INSERT INTO events (at, kinds, batch) VALUES (@at, @kinds, @batch)
