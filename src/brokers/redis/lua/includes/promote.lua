-- Promotion of one queue's scheduled and retrying tasks whose time has come (maintain).
-- @include events
-- @include queue
-- @include idorder

-- Moves up to `limit` due tasks to the back of their queued list, oldest due first (those due at the
-- same time in the order they were created), each with its task.queued event. The caller ends with finish_queue_writes() and publish_events(). Returns how many.
local function promote_due(scheduled_key, retrying_key, queued_base, expiring_key, prefix, queue, now, limit)
  local due = {}
  local function collect(set_key, state)
    local found = redis.call('ZRANGEBYSCORE', set_key, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
    for i = 1, #found, 2 do
      due[#due + 1] = { id = found[i], at = tonumber(found[i + 1]), set = set_key, state = state }
    end
  end
  collect(scheduled_key, 'scheduled')
  collect(retrying_key, 'retrying')
  sort_by_time_then_creation(due)

  local promoted = 0
  for i = 1, math.min(#due, limit) do
    local task = due[i]
    local task_key = prefix .. task.id
    redis.call('ZREM', task.set, task.id)
    local f = redis.call('HMGET', task_key, 'state', 'name', 'priority', 'expires')
    if f[1] == task.state then
      redis.call('HSET', task_key, 'state', 'queued', 'ready', now)
      enqueue_ready(queued_base, expiring_key, task.id, f[3], f[4])
      queued_event(task.id, f[2], queue, now, f[3])
      promoted = promoted + 1
    end
  end
  return promoted
end
