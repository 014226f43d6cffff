-- Hand-off: a worker that found a queue empty registers in it as idle (lease.lua) with how many
-- more tasks it can take ("room") and until when; a task enqueued while nothing waits in the queue goes
-- straight to such a worker instead of into a queued list: leased to it (state active, in the active set)
-- and pushed, with everything needed to run it, onto the worker's inbox LIST, on which the worker waits
-- with BLMPOP. The worker starts the task as soon as Redis replies, without a lease round trip.
-- Registrations: HASH <idle key>, worker id -> "room|lease ms|until" (the worker's leases renew it, a
-- full lease ends it, each handed task takes one of its room and each attempt it ends gives one back);
-- the inbox of worker w is the LIST "<idle key>:<w>" (same hash tag), which expires if nobody reads it.
-- @include zbatch
local HANDOFF_SAMPLE = 3
local handoff_targets -- the registrations used by this call, in order
local handoff_used -- their worker ids (a registration's stored room is stale until the call ends)
local handoff_current
-- nil: not looked at yet; false: no hand-off for the rest of this call (a task of it went to a list,
-- or nothing is registered, or tasks wait in the queue).
local handoff_open

local function reset_handoff()
  handoff_targets, handoff_used, handoff_current, handoff_open = {}, {}, nil, nil
end

-- A registration ("room|lease ms|until") as a hand-off target, or nil when it is not one.
local function handoff_registration(worker, value)
  local room, lease_ms, till = string.match(value, '^(%d+)|(%d+)|(%d+)$')
  if not room then return nil end
  return { worker = worker, room = tonumber(room), lease_ms = tonumber(lease_ms), till = till, payloads = {} }
end

-- A registered worker with room, or nil; drops registrations that ran out of time with an empty inbox.
-- One call looks at up to HANDOFF_SAMPLE distinct registrations, at random.
local function handoff_pick(idle_key, now)
  local picks = redis.call('HRANDFIELD', idle_key, HANDOFF_SAMPLE, 'WITHVALUES')
  for i = 1, #picks, 2 do
    local worker = picks[i]
    local target = handoff_registration(worker, picks[i + 1])
    if target and tonumber(target.till) > tonumber(now) then
      if target.room > 0 and not handoff_used[worker] then
        handoff_used[worker] = true
        handoff_targets[#handoff_targets + 1] = target
        return target
      end
      -- Full for now (or already used up by this call): kept, so that its settles give it room again.
    elseif redis.call('LLEN', idle_key .. ':' .. worker) == 0 then
      -- Ran out of time. One with tasks still in its inbox is left to rescue.lua, which returns them.
      redis.call('HDEL', idle_key, worker)
    end
  end
  return nil
end

-- The names of each queue's 16 queued lists, kept across calls (they never change; building them is a
-- good part of a single enqueue's cost), for at most 1,000 queues at a time.
local queued_lists_of, queued_lists_count = {}, 0

-- Whether any task waits in the queue's lists.
local function tasks_waiting(queued_base)
  local lists = queued_lists_of[queued_base]
  if not lists then
    if queued_lists_count >= 1000 then queued_lists_of, queued_lists_count = {}, 0 end
    lists = {}
    for p = 0, 15 do lists[p + 1] = queued_base .. ':' .. p end
    queued_lists_of[queued_base], queued_lists_count = lists, queued_lists_count + 1
  end
  return redis.call('EXISTS', unpack(lists)) > 0
end

-- The worker to hand the next ready task to, or nil (the task joins its queued list).
local function handoff_target(queued_base, idle_key, now)
  if handoff_open == false then return nil end
  if handoff_current and handoff_current.room > 0 then return handoff_current end
  handoff_current = handoff_pick(idle_key, now)
  -- A hand-off must never overtake a task waiting in the queue.
  if handoff_current and handoff_open == nil and tasks_waiting(queued_base) then handoff_current = nil end
  handoff_open = handoff_current ~= nil
  return handoff_current
end

-- No hand-off for the rest of the script: a task of it is waiting in a list.
local function handoff_stop()
  handoff_open = false
end

-- An inbox entry: the JSON array [id, name, priority, execution or '', attempt, createdAt or '', lease
-- expiry, input], the input being the stored JSON itself (written by the producer, so valid JSON: the
-- worker parses the entry once). `fields` are the first six.
local function inbox_entry(fields, lease_at, input)
  fields[7] = lease_at
  local head = cjson.encode(fields)
  return string.sub(head, 1, -2) .. ',' .. input .. ']'
end

-- Leases a task whose hash is already written as active for `target` (state, worker, started,
-- attempts): the active set, and its inbox entry (see inbox_entry).
local function hand_off(target, active_key, now, fields, input)
  local lease_at = string.format('%.0f', tonumber(now) + target.lease_ms)
  zadd_later(active_key, lease_at, fields[1])
  target.payloads[#target.payloads + 1] = inbox_entry(fields, lease_at, input)
  target.room = target.room - 1
end

-- Pushes what was handed to each worker onto its inbox and stores the registrations' remaining room
-- (a worker with none stays registered: settling its tasks gives it room again, see settle.lua).
local function finish_handoffs(idle_key)
  for _, target in ipairs(handoff_targets) do
    local inbox = idle_key .. ':' .. target.worker
    local payloads = target.payloads
    for i = 1, #payloads, 500 do
      redis.call('RPUSH', inbox, unpack(payloads, i, math.min(#payloads, i + 499)))
    end
    if #payloads > 0 then redis.call('PEXPIRE', inbox, target.lease_ms) end
    redis.call('HSET', idle_key, target.worker, target.room .. '|' .. target.lease_ms .. '|' .. target.till)
  end
end

-- The registration of `worker` if it is live and has room, else nil.
local function handoff_registered(idle_key, worker, now)
  local value = redis.call('HGET', idle_key, worker)
  local target = value and handoff_registration(worker, value)
  if not target or target.room <= 0 or tonumber(target.till) <= tonumber(now) then return nil end
  return target
end

-- enqueue_one.lua's hand-off of its one task: while nothing waits in the queue, the calling process's
-- own worker `preferred` if it is registered with room (is_local: no inbox entry), else any registered
-- worker with room; or nil.
local function handoff_one(queued_base, idle_key, now, preferred)
  local target
  if preferred ~= '' then
    target = handoff_registered(idle_key, preferred, now)
    if target then target.is_local = true end
  end
  target = target or handoff_pick(idle_key, now)
  if target and tasks_waiting(queued_base) then return nil end
  return target
end

-- Leases the one task (its hash already written as active for the target) and, unless the target is
-- the caller's own worker, pushes it onto the worker's inbox, as hand_off + finish_handoffs do for a
-- batch. Returns the lease expiry.
local function handoff_one_push(target, idle_key, active_key, now, fields, input)
  local lease_at = string.format('%.0f', tonumber(now) + target.lease_ms)
  redis.call('ZADD', active_key, lease_at, fields[1])
  if not target.is_local then
    local inbox = idle_key .. ':' .. target.worker
    redis.call('RPUSH', inbox, inbox_entry(fields, lease_at, input))
    redis.call('PEXPIRE', inbox, target.lease_ms)
  end
  redis.call('HSET', idle_key, target.worker, (target.room - 1) .. '|' .. target.lease_ms .. '|' .. target.till)
  return lease_at
end
