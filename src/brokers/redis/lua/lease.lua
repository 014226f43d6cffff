-- lease: hands up to `limit` queued tasks of one queue to a worker (the highest priority first, FIFO
-- within a priority) and starts a new attempt for each; queued tasks whose expiry passed are cancelled
-- first (reason 'expired'), never leased. O(1) per task however deep the queue. Publishes task.started
-- (and task.cancelled for expired tasks).
-- KEYS[1] queued lists (base name; one LIST per priority: <base>:<p>)   KEYS[2] active ZSET
-- KEYS[3] expiring ZSET   KEYS[4] cancelled ZSET   KEYS[5] idle workers HASH (hand-off)
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] limit   ARGV[5] lease expires at
-- ARGV[6] worker id   ARGV[7] events channel   ARGV[8] event header
-- ARGV[9] hand-off registration valid until, or '' (none): when set, a lease that leaves room (the queue
-- is empty) registers the worker to receive tasks enqueued later (handoff.lua); a full one ends it.
-- ARGV[10] optional, 'probe': when a task waits in the queue, return nil at once and change nothing (a
-- worker of several queues then plans its lease across them); else lease as usual, which on an empty
-- queue leases nothing and registers the worker. An idle worker of several queues renews its
-- registrations with one call per queue this way.
-- ARGV[11] this call's id, unique among the worker's calls: the ids a call leased are kept (the STRING
-- "<active ZSET>:call:<worker>", a line "<call id>|<JSON array of ids>" for each of the worker's last two
-- calls on this queue that leased tasks, the newest first, for the lease time), and a second run of the
-- same call returns those of them the worker still holds in the attempt it started, and leases nothing
-- more. ioredis sends a command again after reconnecting when its reply did not come, though Redis may
-- have run it; without this, the tasks of the first run would wait for their lease to expire. Two: a
-- worker has at most two leases of a queue in flight at once (src/worker/lease-budget.ts), and a
-- dropped connection sends both again.
-- Returns a JSON array, per leased task: id, name, priority, input, execution, attempt, createdAt (text
-- but attempt; '' for a field the hash leaves out, false for a missing input: no priority or createdAt
-- mean the default priority and the time in the id); nil for a probe that found tasks waiting. One
-- text, not a nested reply: a client decodes it in one JSON.parse (about a third of the CPU of 7 reply
-- elements a task).
-- @include events
-- @include task
-- @include queue
-- @include expire
-- @include zbatch

local prefix, queue, now, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local lease_at, worker = ARGV[5], ARGV[6]
local lease_ms = string.format('%.0f', tonumber(lease_at) - tonumber(now))

if ARGV[10] == 'probe' then
  local lists = {}
  for p = 0, 15 do lists[p + 1] = KEYS[1] .. ':' .. p end
  if redis.call('EXISTS', unpack(lists)) > 0 then return nil end
end
local out = {}
local started = {} -- the task.started fields after the common ones, by attempt
local call, call_key = ARGV[11] or '', KEYS[2] .. ':call:' .. worker

-- One leased task in the reply (see Returns). HMGET's false (no such field) becomes '', which the
-- client reads as absent, but for the input (false: a missing input, not an unreadable one).
local function add_leased(id, name, priority, input, execution, attempt, created)
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = id, name or '', priority or '', input
  out[n + 5], out[n + 6], out[n + 7] = execution or '', attempt, created or ''
end

-- cjson writes an empty table as an object.
local function leased_reply()
  return #out == 0 and '[]' or cjson.encode(out)
end

-- The JSON array of the ids that `call` leased, from the worker's record (see ARGV[11]), or nil.
local function recorded_ids(record, call)
  local head = call .. '|'
  local at = 1
  while at do
    local line_end = string.find(record, '\n', at, true)
    if string.sub(record, at, at + #head - 1) == head then
      return string.sub(record, at + #head, line_end and line_end - 1 or -1)
    end
    at = line_end and line_end + 1
  end
  return nil
end

-- A second run of this call (see ARGV[11]): what the first one leased, as it returned it.
local record = call ~= '' and redis.call('GET', call_key)
if record then
  local ids = recorded_ids(record, call)
  if ids then
    for _, id in ipairs(cjson.decode(ids)) do
      local f = redis.call('HMGET', prefix .. id, 'state', 'worker', 'started', 'name', 'priority', 'input',
        'exec', 'attempts', 'created')
      if f[1] == 'active' and f[2] == worker and f[3] == now then add_leased(id, f[4], f[5], f[6], f[7], tonumber(f[8]), f[9]) end
    end
    return leased_reply()
  end
end

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
    'expires', 'attempts')
  if f[1] ~= 'queued' then return false end
  local attempt = (tonumber(f[8]) or 0) + 1
  -- The lease expiry is the active set's score; progress and cancel were cleared when the previous
  -- attempt ended.
  redis.call('HSET', task_key, 'state', 'active', 'worker', worker, 'started', now, 'attempts', attempt)
  zadd_later(KEYS[2], lease_at, id)
  if f[7] then redis.call('ZREM', KEYS[3], id) end
  add_leased(id, f[2], f[3], f[4], f[5], attempt, f[6])
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

-- LMPOP pops from the first non-empty of the lists, highest priority first, in one call. A list it took
-- fewer than asked from is empty now: the next call looks only at lower priorities.
local lowest = 15
while leased < limit and lowest >= 0 do
  local args = { lowest + 1 }
  for p = lowest, 0, -1 do args[#args + 1] = KEYS[1] .. ':' .. p end
  local asked = limit - leased
  args[#args + 1], args[#args + 2], args[#args + 3] = 'LEFT', 'COUNT', asked
  local popped = redis.call('LMPOP', unpack(args))
  if not popped then break end
  take(popped[2])
  if #popped[2] < asked then lowest = tonumber(string.match(popped[1], ':(%d+)$')) - 1 end
end

flush_zsets()
if call ~= '' and leased > 0 and tonumber(lease_ms) > 0 then
  local ids = {}
  for i = 1, #out, 7 do ids[#ids + 1] = out[i] end
  local line = call .. '|' .. cjson.encode(ids)
  local newest = record and string.match(record, '^[^\n]+')
  redis.call('SET', call_key, newest and (line .. '\n' .. newest) or line, 'PX', lease_ms)
end
if ARGV[9] ~= '' then
  if leased < limit then
    redis.call('HSET', KEYS[5], worker, (limit - leased) .. '|' .. lease_ms .. '|' .. ARGV[9])
  else
    redis.call('HDEL', KEYS[5], worker)
  end
end
publish_events(ARGV[7], ARGV[8])
return leased_reply()
