-- Events appended after @after, in order.
SELECT id, batch FROM events WHERE id > @after ORDER BY id LIMIT @limit
