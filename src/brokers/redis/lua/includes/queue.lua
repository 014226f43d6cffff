-- The queued lists: one list per priority, named `<queued base>:<priority>` (0..15). A task joins the
-- back of its priority's list and a lease takes from the front of the highest non-empty one, so
-- priority is strict and FIFO holds within a priority; a task that returns to the queue (promoted,
-- rescued, handed back) joins the back. A list entry costs about 40 bytes of memory, a sorted-set entry
-- about 150, and pushing or popping one is O(1).
-- @include defaults
local QUEUE_CHUNK = 500
local pending_pushes, pending_lists

local function reset_queue()
  pending_pushes, pending_lists = {}, {}
end

local function queued_list(queued_base, priority)
  local p = tonumber(priority) or DEFAULT_PRIORITY
  if p < 0 then p = 0 elseif p > 15 then p = 15 end
  return queued_base .. ':' .. p
end

-- Puts a task (whose hash is already updated) at the back of its priority's list (deferred: one RPUSH
-- per list and batch), and into the expiring set when it has an expiry, so a lease can cancel it once
-- it expires. Call finish_queue_writes() before the script returns.
local function enqueue_ready(queued_base, expiring_key, id, priority, expires)
  local list = queued_list(queued_base, priority)
  local ids = pending_pushes[list]
  if not ids then
    ids = {}
    pending_pushes[list] = ids
    pending_lists[#pending_lists + 1] = list
  end
  ids[#ids + 1] = id
  if expires then redis.call('ZADD', expiring_key, expires, id) end
end

-- Takes a queued task out of its list (cancel, expiry): O(n) in the list's length, like BullMQ's.
local function remove_queued(queued_base, priority, id)
  redis.call('LREM', queued_list(queued_base, priority), 1, id)
end

local function finish_queue_writes()
  for _, list in ipairs(pending_lists) do
    local ids = pending_pushes[list]
    for i = 1, #ids, QUEUE_CHUNK do
      redis.call('RPUSH', list, unpack(ids, i, math.min(#ids, i + QUEUE_CHUNK - 1)))
    end
  end
  reset_queue()
end
