-- prune: deletes finished tasks of one queue that finished before a time (retention), a batch at a
-- time, with their idempotency key entries, and notes whether the queue then holds nothing (includes/
-- unused: a queue empty for the grace is forgotten). (Hand-off registrations that lapsed are the
-- maintainer's, includes/rescue: their inbox may hold tasks.)
-- KEYS[1] the queue's mark of holding nothing   KEYS[2] queued lists (base name)   KEYS[3] scheduled ZSET
-- KEYS[4] retrying ZSET   KEYS[5] active ZSET   KEYS[6] expiring ZSET   KEYS[7] completed ZSET
-- KEYS[8] failed ZSET   KEYS[9] cancelled ZSET   KEYS[10] idempotency keys HASH   KEYS[11] idle workers HASH
-- (the queue's mark and keys, as includes/unused takes them)
-- ARGV[1] task key prefix   ARGV[2] delete what finished before this   ARGV[3] limit per state
-- ARGV[4] now   ARGV[5] the grace (ms) after which an empty queue is forgotten
-- Returns {the number of tasks deleted, 1 when a state had `limit` of them (more may be due), else 0,
-- 1 when the queue has held nothing for the grace, else 0}.
-- @flags allow-oom
-- @include unused
local prefix, before, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])

local deleted, full = 0, 0

for k = 7, 9 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', '(' .. before, 'LIMIT', 0, limit)
  if #ids >= limit then full = 1 end
  for _, id in ipairs(ids) do
    local task_key = prefix .. id
    local key = redis.call('HGET', task_key, 'key')
    if key and redis.call('HGET', KEYS[10], key) == id then redis.call('HDEL', KEYS[10], key) end
    redis.call('DEL', task_key)
    redis.call('ZREM', KEYS[k], id)
    deleted = deleted + 1
  end
end

local unused = 0
if note_unused(KEYS, deleted > 0, ARGV[4], tonumber(ARGV[5])) then unused = 1 end
return { deleted, full, unused }
