-- enqueue_one: the common enqueue of ONE task, ready now, with no idempotency key and no expiry (anything
-- else goes through enqueue.lua, which this must match in what it stores and publishes). An idle worker
-- of the queue with room gets the task handed over (handoff.lua: leased to it and pushed onto its
-- inbox); otherwise the task joins its priority's queued list. Kept to the few commands and strings
-- this needs: a task handed to an idle worker waits for this call to end before the worker hears of it.
-- KEYS[1] queued lists (base name; one LIST per priority: <base>:<p>)   KEYS[2] idle workers HASH
-- KEYS[3] active ZSET
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] events channel   ARGV[5] event header
-- ARGV[6] id (stored form, ids.ts)   ARGV[7] name   ARGV[8] priority   ARGV[9] input JSON
-- ARGV[10] execution JSON or '' (the defaults)   ARGV[11] createdAt or '' (the time in the id)
-- ARGV[12] a worker of the calling process to offer the task to first, or '': handed to it, the task is
-- not pushed onto its inbox (the caller delivers it in memory)
-- Returns 'queued'; 'active' when the task was handed to a worker through its inbox; or
-- {'local', lease expiry} when it was handed to the worker of ARGV[12].
-- Safe to run twice: ioredis sends a command again when its connection dropped before the reply came,
-- though Redis may have run it. Ids are new at every enqueue, so a task that exists already was stored
-- by this very call: nothing changes, and the reply is what the first run's would have been (a task
-- handed to the caller's own worker is delivered by the caller on this reply, the first one being lost).
-- @include defaults
-- @include handoff
-- @include channels

local prefix, queue, now, id, name, priority, input, execution, created =
  ARGV[1], ARGV[2], ARGV[3], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local p = tonumber(priority)
local task_key = prefix .. id

if redis.call('EXISTS', task_key) == 1 then
  local f = redis.call('HMGET', task_key, 'state', 'worker', 'attempts')
  if f[1] ~= 'active' then return 'queued' end
  if f[2] ~= ARGV[12] or f[3] ~= '1' then return 'active' end
  local lease_at = redis.call('ZSCORE', KEYS[3], id)
  if not lease_at then return 'active' end
  return { 'local', string.format('%.0f', tonumber(lease_at)) }
end

local target = handoff_one(KEYS[1], KEYS[2], now, ARGV[12])
local fields = { 'state', target and 'active' or 'queued', 'name', name, 'input', input }
if p ~= DEFAULT_PRIORITY then fields[#fields + 1], fields[#fields + 2] = 'priority', priority end
if created ~= '' then fields[#fields + 1], fields[#fields + 2] = 'created', created end
if execution ~= '' then fields[#fields + 1], fields[#fields + 2] = 'exec', execution end
if target then
  fields[#fields + 1], fields[#fields + 2] = 'worker', target.worker
  fields[#fields + 1], fields[#fields + 2] = 'started', now
  fields[#fields + 1], fields[#fields + 2] = 'attempts', 1
end
redis.call('HSET', task_key, unpack(fields))

-- The events, as publish_events (events.lua) writes them: the names are JSON strings.
local id_json = cjson.encode(id)
local common = ',"name":' .. cjson.encode(name) .. ',"queue":' .. cjson.encode(queue) .. ',"timestamp":' .. now
local queued = '[{"type":"task.queued"' .. common .. ',"priority":' .. (p or DEFAULT_PRIORITY) .. '},[' .. id_json .. ']]'
if target then
  local lease_at = handoff_one_push(target, KEYS[2], KEYS[3], now, { id, name, priority, execution, '1', created }, input)
  publish_to(ARGV[4], ARGV[5] .. ' task.queued,task.started [' .. queued ..
    ',[{"type":"task.started"' .. common .. ',"workerId":' .. cjson.encode(target.worker) .. ',"attempt":1},[' .. id_json .. ']]]')
  if target.is_local then return { 'local', lease_at } end
  return 'active'
end
local clamped = p or DEFAULT_PRIORITY
if clamped < 0 then clamped = 0 elseif clamped > 15 then clamped = 15 end
redis.call('RPUSH', KEYS[1] .. ':' .. clamped, id)
local message = ARGV[5] .. ' task.queued [' .. queued .. ']'
publish_to(ARGV[4], message)
publish_to(ARGV[4] .. ':work', message) -- A ready task for the workers (events.lua, publish_work).
return 'queued'
