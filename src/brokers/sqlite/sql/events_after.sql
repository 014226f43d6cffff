-- Event rows appended after @after, in order; the batch only where its types intersect @kinds.
SELECT id, kinds, CASE WHEN (kinds & @kinds) != 0 THEN batch END AS batch
FROM events WHERE id > @after ORDER BY id LIMIT @limit
