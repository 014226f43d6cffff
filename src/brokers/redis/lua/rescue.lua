-- rescue: returns tasks of one queue whose worker is gone to the queue as a new attempt, recording a
-- WorkerLostError; a task whose cancellation was asked ends cancelled instead. Two kinds:
-- - tasks whose lease expired (their worker stopped renewing it);
-- - tasks handed over (handoff.lua) to a worker whose registration lapsed while they still wait in its
--   inbox: a live worker always waits on its inbox, so what is handed to it leaves the list at once; an
--   entry still there when the registration ran out of time was never received, and is returned now
--   rather than when its lease expires. The lapsed registration is deleted, with its inbox.
-- Publishes task.queued / task.cancelled.
-- KEYS[1] active ZSET   KEYS[2] queued lists (base name)   KEYS[3] expiring ZSET   KEYS[4] cancelled ZSET
-- KEYS[5] idle workers HASH (hand-off registrations; a worker's inbox is the LIST "<KEYS[5]>:<worker>")
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] limit   ARGV[5] events channel
-- ARGV[6] event header
-- Returns the number of tasks returned to the queue.
-- @include requeue

local prefix, queue, now, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local rescued = 0

local function lost_error(message)
  return '{"type":"WorkerLostError","message":' .. cjson.encode(message) .. ',"at":' .. now .. '}'
end

-- Returns one task that `worker` (nil: whichever) held to the queue, if it is still active there.
local function return_task(id, worker, message)
  local task_key = prefix .. id
  local f = redis.call('HMGET', task_key, 'state', 'worker', 'cancel', 'name', 'priority', 'expires', 'attempts')
  if f[1] ~= 'active' or (worker and f[2] ~= worker) then return end
  if requeue_or_cancel(KEYS, task_key, id, f, queue, now, lost_error(string.format(message, f[2] or '?')), false) then
    rescued = rescued + 1
  end
end

local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, limit)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  return_task(id, nil, 'worker %s stopped renewing its lease; the task was returned to its queue')
end

-- A registration is "room|lease ms|until"; there is one per idle worker of the queue.
local registrations = redis.call('HGETALL', KEYS[5])
for i = 1, #registrations, 2 do
  local worker = registrations[i]
  local till = tonumber(string.match(registrations[i + 1], '|(%d+)$'))
  if not till or till <= tonumber(now) then
    redis.call('HDEL', KEYS[5], worker)
    local inbox = KEYS[5] .. ':' .. worker
    -- Entries are JSON arrays with the task id first (handoff.lua's inbox_entry); '' closes an inbox.
    for _, entry in ipairs(redis.call('LRANGE', inbox, 0, -1)) do
      local id = string.match(entry, '^%["([^"]+)"')
      if id then
        return_task(id, worker, 'worker %s stopped waiting for tasks before it received this one; the task was returned to its queue')
      end
    end
    redis.call('DEL', inbox)
  end
end

finish_queue_writes()
publish_events(ARGV[5], ARGV[6])
return rescued
