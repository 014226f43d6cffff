-- lease: hands up to `limit` queued tasks of one queue to a worker (the highest priority first, FIFO
-- within a priority) and starts a new attempt for each; queued tasks whose expiry passed are cancelled
-- first (reason 'expired'), never leased. O(1) per task however deep the queue. Publishes task.started
-- (and task.cancelled for expired tasks).
-- KEYS[1] queued lists (base name; one LIST per priority: <base>:<p>)   KEYS[2] active ZSET
-- KEYS[3] expiring ZSET   KEYS[4] cancelled ZSET
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] limit   ARGV[5] lease expires at
-- ARGV[6] worker id   ARGV[7] events channel   ARGV[8] event header
-- Returns, per leased task: id, order stamp, name, priority, input, execution, attempt, createdAt.
-- @include events
-- @include task
-- @include queue
-- @include expire
-- @include zbatch

local prefix, queue, now, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local lease_at, worker = ARGV[5], ARGV[6]
local out = {}
local started = {} -- the task.started fields after the common ones, by attempt

local function started_extra(attempt)
  local extra = started[attempt]
  if not extra then
    extra = ',"workerId":' .. json_string(worker) .. ',"attempt":' .. attempt
    started[attempt] = extra
  end
  return extra
end

-- Starts an attempt on a popped task; false for an entry without a queued task behind it (deleted or
-- damaged by hand), which is dropped from the queue.
local function lease_one(id)
  local task_key = prefix .. id
  local f = redis.call('HMGET', task_key, 'state', 'name', 'priority', 'input', 'exec', 'created',
    'expires', 'attempts', 'order')
  if f[1] ~= 'queued' then return false end
  local attempt = (tonumber(f[8]) or 0) + 1
  -- The lease expiry is the active set's score; progress and cancel were cleared when the previous
  -- attempt ended.
  redis.call('HSET', task_key, 'state', 'active', 'worker', worker, 'started', now, 'attempts', attempt)
  zadd_later(KEYS[2], lease_at, id)
  if f[7] then redis.call('ZREM', KEYS[3], id) end
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = id, f[9] or 0, f[2], f[3]
  out[n + 5], out[n + 6], out[n + 7], out[n + 8] = f[4], f[5], attempt, f[6]
  task_event('task.started', id, f[2], queue, now, started_extra(attempt))
  return true
end

cancel_expired(KEYS[1], KEYS[3], KEYS[4], prefix, queue, now)

local leased = 0
local function take(popped)
  for _, id in ipairs(popped) do
    if lease_one(id) then leased = leased + 1 end
  end
end

-- LMPOP pops from the first non-empty of the lists, highest priority first, in one call.
local args = { 16 }
for p = 15, 0, -1 do args[#args + 1] = KEYS[1] .. ':' .. p end
args[18], args[19] = 'LEFT', 'COUNT'
while leased < limit do
  args[20] = limit - leased
  local popped = redis.call('LMPOP', unpack(args))
  if not popped then break end
  take(popped[2])
end

flush_zsets()
publish_events(ARGV[7], ARGV[8])
return out
