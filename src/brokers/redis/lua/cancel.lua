-- cancel: cancels a waiting task (queued, scheduled or retrying) at once, or asks the worker running an
-- active one to stop it. Publishes task.cancelled, or task.revoked for an active task.
-- KEYS[1] task HASH   KEYS[2] queued lists (base name)   KEYS[3] scheduled ZSET   KEYS[4] retrying ZSET
-- KEYS[5] expiring ZSET   KEYS[6] cancelled ZSET
-- ARGV[1] task id   ARGV[2] queue   ARGV[3] reason   ARGV[4] now   ARGV[5] events channel
-- ARGV[6] event header
-- Returns 'cancelled', 'requested', 'finished' or 'not_found'.
-- @include events
-- @include queue
-- @include task

local id, queue, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local f = redis.call('HMGET', KEYS[1], 'state', 'name', 'worker', 'priority')
local state = f[1]
local outcome

-- Whether this very call cancelled the task: sent again by ioredis after its reply was lost (see
-- enqueue.lua), it finds the task cancelled at its instant for its reason, and reports as the first run
-- did. A task that expired, or was cancelled for another reason, at the same instant was not.
local function cancelled_by_this_call()
  local g = redis.call('HMGET', KEYS[1], 'finished', 'error')
  return g[1] == now and g[2] == cancelled_error(reason)
end

if state == 'queued' or state == 'scheduled' or state == 'retrying' then
  if state == 'queued' then
    remove_queued(KEYS[2], f[4], id)
  else
    redis.call('ZREM', state == 'scheduled' and KEYS[3] or KEYS[4], id)
  end
  redis.call('ZREM', KEYS[5], id)
  finish_cancelled(KEYS[1], KEYS[6], id, reason, now)
  cancelled_event(id, f[2], queue, now, reason)
  outcome = 'cancelled'
elseif state == 'active' then
  redis.call('HSET', KEYS[1], 'cancel', '1')
  task_event('task.revoked', id, f[2], queue, now, ',"workerId":' .. cjson.encode(f[3] or ''))
  outcome = 'requested'
elseif state == 'cancelled' and cancelled_by_this_call() then
  outcome = 'cancelled'
elseif state then
  outcome = 'finished'
else
  outcome = 'not_found'
end

publish_events(ARGV[5], ARGV[6])
return outcome
