-- Appends the events of one transaction as a JSON array.
INSERT INTO events (at, batch) VALUES (@at, @batch)
