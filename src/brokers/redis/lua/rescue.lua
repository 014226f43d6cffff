-- rescue: returns tasks of one queue whose lease expired (their worker is gone) to the queue as a new
-- attempt, recording a WorkerLostError; a task whose cancellation was asked ends cancelled instead.
-- Publishes task.queued / task.cancelled.
-- KEYS[1] active ZSET   KEYS[2] queued lists (base name)   KEYS[3] expiring ZSET   KEYS[4] cancelled ZSET
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] limit   ARGV[5] events channel
-- ARGV[6] event header
-- Returns the number of tasks returned to the queue.
-- @include events
-- @include queue
-- @include task

local prefix, queue, now, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, limit)
local rescued = 0

local function lost_error(worker)
  local message = 'worker ' .. (worker or '?') .. ' stopped renewing its lease; the task was returned to its queue'
  return '{"type":"WorkerLostError","message":' .. cjson.encode(message) .. ',"at":' .. now .. '}'
end

for _, id in ipairs(expired) do
  local task_key = prefix .. id
  redis.call('ZREM', KEYS[1], id)
  local f = redis.call('HMGET', task_key, 'state', 'worker', 'cancel', 'name', 'priority', 'expires', 'attempts')
  if f[1] == 'active' then
    if f[3] == '1' then
      -- It was being cancelled when its worker died: finish the cancellation instead of running it again.
      finish_cancelled(task_key, KEYS[4], id, 'revoked', now)
      cancelled_event(id, f[4], queue, now, 'revoked')
    else
      append_error(task_key, lost_error(f[2]), f[7])
      redis.call('HSET', task_key, 'state', 'queued', 'ready', now)
      leave_attempt(task_key)
      enqueue_ready(KEYS[2], KEYS[3], id, f[5], f[6])
      queued_event(id, f[4], queue, now, f[5])
      rescued = rescued + 1
    end
  end
end

finish_queue_writes()
publish_events(ARGV[5], ARGV[6])
return rescued
