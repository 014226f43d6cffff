-- The queued lists: one list per priority, named `<queued base>:<priority>` (0..15). A task joins the
-- back of its priority's list and a lease takes from the front of the highest non-empty one, so
-- priority is strict and FIFO holds within a priority; a task that returns to the queue when its delay
-- or backoff passed (promoted) or its worker was lost (rescued) joins the back, one its worker handed back
-- (release: at shutdown, or held too long waiting for a slot) the front, where it was when leased. A list
-- entry costs about 40 bytes of memory, a sorted-set entry about 150, and pushing or popping one is O(1).
-- @include defaults
local QUEUE_CHUNK = 500
local pending_pushes, pending_lists, pending_fronts, front_lists

local function reset_queue()
  pending_pushes, pending_lists, pending_fronts, front_lists = {}, {}, {}, {}
end

local function queued_list(queued_base, priority)
  local p = tonumber(priority) or DEFAULT_PRIORITY
  if p < 0 then p = 0 elseif p > 15 then p = 15 end
  return queued_base .. ':' .. p
end

-- Puts a task (whose hash is already updated) at the back of its priority's list (deferred: one RPUSH
-- per list and batch), and into the expiring set when it has an expiry, so a lease can cancel it once
-- it expires. Call finish_queue_writes() before the script returns.
-- `front`: at the front instead, ahead of what is queued, in the order of the calls.
local function enqueue_ready(queued_base, expiring_key, id, priority, expires, front)
  local list = queued_list(queued_base, priority)
  local pending, lists = pending_pushes, pending_lists
  if front then pending, lists = pending_fronts, front_lists end
  local ids = pending[list]
  if not ids then
    ids = {}
    pending[list] = ids
    lists[#lists + 1] = list
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
  -- LPUSH puts each value ahead of the one before: the last ids go first, so the first end up in front.
  for _, list in ipairs(front_lists) do
    local ids = pending_fronts[list]
    local reversed = {}
    for i = #ids, 1, -1 do reversed[#reversed + 1] = ids[i] end
    for i = 1, #reversed, QUEUE_CHUNK do
      redis.call('LPUSH', list, unpack(reversed, i, math.min(#reversed, i + QUEUE_CHUNK - 1)))
    end
  end
  reset_queue()
end
