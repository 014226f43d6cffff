-- Queues that hold nothing are forgotten: their names leave the set of queue names, which every
-- maintenance pass and task lookup goes through, so names used once (a queue per tenant, say) do not
-- cost every pass forever. prune.lua marks a queue it finds empty with the time it found it so, in
-- `{P:q}:unused`; once the mark is as old as the grace, the pruner takes the name out of the set and
-- asks forget.lua whether the queue is still empty (it puts the name back when not).
-- A script using this takes the queue's mark and its keys as KEYS[1..11], in the order of
-- QueueKeys.contents() (keys.ts): KEYS[1] the mark, KEYS[2] the queued lists (base name), KEYS[3]
-- scheduled, KEYS[4] retrying, KEYS[5] active, KEYS[6] expiring, KEYS[7] completed, KEYS[8] failed,
-- KEYS[9] cancelled, KEYS[10] idempotency keys, KEYS[11] idle workers.

-- Whether none of the queue's keys exists: no task in any state, no idempotency key, no idle worker.
local function queue_is_empty(keys)
  local names = {}
  for p = 0, 15 do names[#names + 1] = keys[2] .. ':' .. p end
  for k = 3, 11 do names[#names + 1] = keys[k] end
  return redis.call('EXISTS', unpack(names)) == 0
end

-- Updates the mark after a prune and tells whether the queue has been empty for `grace` ms: a queue that
-- holds something loses its mark; an empty one without a mark, or emptied by this prune (`emptied`: its
-- last tasks were written before now), is marked now. The mark expires by itself after three graces, in
-- case no pruner looks at the queue again (its name went from the set of queue names some other way).
local function note_unused(keys, emptied, now, grace)
  if not queue_is_empty(keys) then
    redis.call('DEL', keys[1])
    return false
  end
  local since = tonumber(redis.call('GET', keys[1]))
  if emptied or not since then
    redis.call('SET', keys[1], now, 'PX', grace * 3)
    return false
  end
  return tonumber(now) - since >= grace
end
