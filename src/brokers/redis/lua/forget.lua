-- forget: the second step of forgetting a queue (includes/unused): the pruner has taken the queue's
-- name out of the set of queue names, and asks whether the queue is still empty. A task written since
-- the prune that found it empty for the grace makes it hold something: then the pruner puts the name
-- back. Either way the mark goes (a queue forgotten is marked afresh if it is used and emptied again).
-- KEYS[1] the queue's mark of holding nothing   KEYS[2] queued lists (base name)   KEYS[3] scheduled ZSET
-- KEYS[4] retrying ZSET   KEYS[5] active ZSET   KEYS[6] expiring ZSET   KEYS[7] completed ZSET
-- KEYS[8] failed ZSET   KEYS[9] cancelled ZSET   KEYS[10] idempotency keys HASH   KEYS[11] idle workers HASH
-- (the queue's mark and keys, as includes/unused takes them)
-- ARGV none
-- Returns 1 when the queue is empty (its name stays out), else 0.
-- @flags allow-oom
-- @include unused

local empty = queue_is_empty(KEYS)
redis.call('DEL', KEYS[1])
if empty then return 1 end
return 0
