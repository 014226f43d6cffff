-- purge: deletes waiting (queued, scheduled, retrying) tasks of one queue, a batch at a time.
-- KEYS[1] queued lists (base name; one LIST per priority: <base>:<p>)   KEYS[2] scheduled ZSET
-- KEYS[3] retrying ZSET   KEYS[4] expiring ZSET   KEYS[5] idempotency keys HASH
-- KEYS[6] the queue's mark of holding nothing (includes/unused): deleted, so the grace after which an
-- empty queue is forgotten starts again (tasks written since the mark was set may be among those deleted)
-- ARGV[1] task key prefix   ARGV[2] limit per list or set   ARGV[3] the call's id, unique (the STRING
-- "<KEYS[1]>:purged:<id>" keeps, for a minute, how many tasks the call deleted)
-- Returns the number of tasks deleted (the caller calls again until it is 0); run again (ioredis sends a
-- command again when its reply was lost, though Redis may have run it), what the first run deleted.
-- @flags allow-oom
local prefix, limit = ARGV[1], tonumber(ARGV[2])
local mark = KEYS[1] .. ':purged:' .. ARGV[3]
local earlier = redis.call('GET', mark)
if earlier then return tonumber(earlier) end
local deleted = 0
redis.call('DEL', KEYS[6])

local function delete(id)
  local task_key = prefix .. id
  local key = redis.call('HGET', task_key, 'key')
  if key and redis.call('HGET', KEYS[5], key) == id then redis.call('HDEL', KEYS[5], key) end
  redis.call('DEL', task_key)
  redis.call('ZREM', KEYS[4], id)
  deleted = deleted + 1
end

for p = 0, 15 do
  local ids = redis.call('LPOP', KEYS[1] .. ':' .. p, limit)
  if ids then
    for _, id in ipairs(ids) do delete(id) end
  end
end
for k = 2, 3 do
  local ids = redis.call('ZRANGE', KEYS[k], 0, limit - 1)
  for _, id in ipairs(ids) do
    redis.call('ZREM', KEYS[k], id)
    delete(id)
  end
end

redis.call('SET', mark, deleted, 'PX', 60000)
return deleted
