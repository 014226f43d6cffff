-- promote: moves scheduled and retrying tasks of one queue whose time has come to the back of their
-- queued list, oldest due first. Publishes task.queued.
-- KEYS[1] scheduled ZSET   KEYS[2] retrying ZSET   KEYS[3] queued lists (base name)   KEYS[4] expiring ZSET
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] limit   ARGV[5] events channel
-- ARGV[6] event header
-- Returns the number of tasks promoted.
-- @include events
-- @include queue

local prefix, queue, now, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local due = {}

local function collect(set_key, state)
  local found = redis.call('ZRANGEBYSCORE', set_key, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  for i = 1, #found, 2 do
    due[#due + 1] = { id = found[i], at = tonumber(found[i + 1]), set = set_key, state = state }
  end
end

collect(KEYS[1], 'scheduled')
collect(KEYS[2], 'retrying')
table.sort(due, function(a, b) return a.at < b.at end)

local promoted = 0
for i = 1, math.min(#due, limit) do
  local task = due[i]
  local task_key = prefix .. task.id
  redis.call('ZREM', task.set, task.id)
  local f = redis.call('HMGET', task_key, 'state', 'name', 'priority', 'expires')
  if f[1] == task.state then
    redis.call('HSET', task_key, 'state', 'queued', 'ready', now)
    enqueue_ready(KEYS[3], KEYS[4], task.id, f[3], f[4])
    queued_event(task.id, f[2], queue, now, f[3])
    promoted = promoted + 1
  end
end

finish_queue_writes()
publish_events(ARGV[5], ARGV[6])
return promoted
