-- prune: deletes finished tasks of one queue that finished before a time (retention), a batch at a
-- time, with their idempotency key entries. (Hand-off registrations that lapsed are the maintainer's,
-- includes/rescue: their inbox may hold tasks.)
-- KEYS[1] completed ZSET   KEYS[2] failed ZSET   KEYS[3] cancelled ZSET   KEYS[4] idempotency keys HASH
-- ARGV[1] task key prefix   ARGV[2] delete what finished before this   ARGV[3] limit per state
-- Returns {the number of tasks deleted, 1 when a state had `limit` of them (more may be due), else 0}.
-- @flags allow-oom
local prefix, before, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])

local deleted, full = 0, 0

for k = 1, 3 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', '(' .. before, 'LIMIT', 0, limit)
  if #ids >= limit then full = 1 end
  for _, id in ipairs(ids) do
    local task_key = prefix .. id
    local key = redis.call('HGET', task_key, 'key')
    if key and redis.call('HGET', KEYS[4], key) == id then redis.call('HDEL', KEYS[4], key) end
    redis.call('DEL', task_key)
    redis.call('ZREM', KEYS[k], id)
    deleted = deleted + 1
  end
end

return { deleted, full }
