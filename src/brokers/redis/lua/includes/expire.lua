-- Expiry: queued tasks whose `expires` time has passed are cancelled with reason 'expired' instead of
-- being leased. The expiring set (score = expires) holds only queued tasks that have an expiry.
-- Needs the events, queue and task includes.
local EXPIRE_BATCH = 1000

local function cancel_expired(queued_base, expiring_key, cancelled_key, prefix, queue, now)
  local expired = redis.call('ZRANGEBYSCORE', expiring_key, '-inf', now, 'LIMIT', 0, EXPIRE_BATCH)
  for _, id in ipairs(expired) do
    local task_key = prefix .. id
    redis.call('ZREM', expiring_key, id)
    local fields = redis.call('HMGET', task_key, 'state', 'name', 'priority')
    if fields[1] == 'queued' then
      remove_queued(queued_base, fields[3], id)
      finish_cancelled(task_key, cancelled_key, id, 'expired', now)
      cancelled_event(id, fields[2], queue, now, 'expired')
    end
  end
end
