-- Rescue of one queue's tasks whose worker is gone (maintain). Two kinds:
-- - tasks whose lease expired (their worker stopped renewing it);
-- - tasks handed over (handoff.lua) to a worker whose registration lapsed while they still wait in its
--   inbox: a live worker always waits on its inbox, so what is handed to it leaves the list at once; an
--   entry still there when the registration ran out of time was never received, and is returned now
--   rather than when its lease expires. The lapsed registration is deleted, with its inbox.
-- Each goes back to the queue as a new attempt, recording a WorkerLostError (task.queued); a task whose
-- cancellation was asked ends cancelled instead (task.cancelled).
-- @include requeue
-- @include idorder

-- `keys`: the active ZSET, queued lists (base name), expiring ZSET, cancelled ZSET and idle workers HASH
-- (hand-off registrations; a worker's inbox is the LIST "<idle key>:<worker>"), in that order. Returns
-- how many tasks went back to the queue. The caller ends with finish_queue_writes() and publish_events().
local function rescue_lost(keys, prefix, queue, now, limit)
  local rescued = 0

  local function lost_error(message)
    return '{"type":"WorkerLostError","message":' .. cjson.encode(message) .. ',"at":' .. now .. '}'
  end

  -- Returns one task that `worker` (nil: whichever) held to the queue, if it is still active there.
  local function return_task(id, worker, message)
    local task_key = prefix .. id
    local f = redis.call('HMGET', task_key, 'state', 'worker', 'cancel', 'name', 'priority', 'expires', 'attempts')
    if f[1] ~= 'active' or (worker and f[2] ~= worker) then return end
    if requeue_or_cancel(keys, task_key, id, f, queue, now, lost_error(string.format(message, f[2] or '?')), false) then
      rescued = rescued + 1
    end
  end

  -- Oldest expiry first; those that expire together (leased in one call) in the order they were created.
  local found = redis.call('ZRANGEBYSCORE', keys[1], '-inf', '(' .. now, 'WITHSCORES', 'LIMIT', 0, limit)
  local expired = {}
  for i = 1, #found, 2 do expired[#expired + 1] = { id = found[i], at = tonumber(found[i + 1]) } end
  sort_by_time_then_creation(expired)
  for _, entry in ipairs(expired) do
    redis.call('ZREM', keys[1], entry.id)
    return_task(entry.id, nil, 'worker %s stopped renewing its lease; the task was returned to its queue')
  end

  -- A registration is "room|lease ms|until"; there is one per idle worker of the queue.
  local registrations = redis.call('HGETALL', keys[5])
  for i = 1, #registrations, 2 do
    local worker = registrations[i]
    local till = tonumber(string.match(registrations[i + 1], '|(%d+)$'))
    if not till or till <= tonumber(now) then
      redis.call('HDEL', keys[5], worker)
      local inbox = keys[5] .. ':' .. worker
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
  return rescued
end
