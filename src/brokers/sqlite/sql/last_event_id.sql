-- The id of the newest event row, 0 when there is none.
SELECT coalesce(max(id), 0) AS id FROM events
