-- settle: ends attempts of one queue's tasks, held by one worker: complete, fail, retry later, or
-- cancel. Each applies only while the task is active and held by that worker, in the attempt it names (when
-- it names one: a settlement of an attempt whose lease was lost cannot end a later attempt that the
-- same worker leased again). A retry of a task whose cancellation was asked while it ran ends it cancelled
-- instead ('revoked', as a rescue or a hand-back does), its attempt's error recorded; a completion or a
-- final failure stands. Publishes task.completed (with the result, when small), task.failed, task.retrying
-- and task.cancelled.
-- KEYS[1] active ZSET   KEYS[2] completed ZSET   KEYS[3] failed ZSET   KEYS[4] cancelled ZSET
-- KEYS[5] retrying ZSET   KEYS[6] idle workers HASH (handoff.lua: a registered worker's room grows by
-- the attempts it ended)
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] events channel   ARGV[4] event header
-- ARGV[5] the settling worker's id
-- ARGV[6] the settlements, a JSON array of arrays of 7 strings: kind, task id, now, the attempt it ends or
-- '' (any), and by kind:
--   complete: result JSON, '', ''          fail: error JSON, attempt error JSON, ''
--   retry: error JSON, attempt error JSON, runAt          cancel: reason, '', ''
-- (One argument, not 7 a settlement: a client writes it in one JSON.stringify, about half the CPU.)
-- Returns a string with a character per settlement: '1' if applied (or applied by an earlier run of this
-- same call), '0' if the worker no longer held the task.
-- @include events
-- @include task
-- @include zbatch

local prefix, queue, worker = ARGV[1], ARGV[2], ARGV[5]
local out = {}
local completed = {} -- the task.completed fields after the common ones, by attempt

-- A small result rides in its task.completed event's message ("result", which subscribers take out of
-- the event before listeners see it: events.ts), so a process waiting for it (run.result()) need not read
-- the task: up to RESULT_BYTES bytes of JSON, for the first RESULTS_PER_CALL completions of a call. A
-- carried result splits its event from the group of the others (events.lua), which costs Redis a few
-- microseconds a task: a lone completion, where a wait's read is most of its delay, carries its result;
-- most of a busy worker's batch does not, and their waits read them, as they did before.
local RESULT_BYTES, RESULTS_PER_CALL = 1024, 4
local carried = 0

local function completed_extra(attempt, result)
  local extra = completed[attempt]
  if not extra then
    extra = ',"workerId":' .. json_string(worker) .. ',"attempt":' .. attempt
    completed[attempt] = extra
  end
  if carried < RESULTS_PER_CALL and #result <= RESULT_BYTES then
    carried = carried + 1
    return extra .. ',"result":' .. result
  end
  return extra
end

local function finish(task_key, id, state, finished_key, now, fields)
  redis.call('HSET', task_key, 'state', state, 'finished', now, unpack(fields))
  zrem_later(KEYS[1], id)
  zadd_later(finished_key, now, id)
end

local ended = 0 -- attempts ended

-- Whether this very settlement ended the attempt already: sent again by ioredis after its reply was lost
-- (see enqueue.lua), it finds the attempt ended as it ends it, at its instant, and reports as the first
-- run did (else its worker would warn of a lease lost). `f`: the HMGET in settle().
local function settled_by_this_call(task_key, f, kind, now, ends, a, b, c)
  -- A retry, whether its task waits still or went on since (promoted, leased again, even retrying again),
  -- or ended cancelled: its attempt's error is recorded as this call recorded it (append_error). Only that
  -- attempt's one settlement writes such an entry (it names the attempt and the instant). Without it, a
  -- task the retry finds cancelled at its instant was cancelled by another call (a rescue at that instant).
  if kind == 'retry' and ends ~= '' then
    local errors = redis.call('HGET', task_key, 'errors')
    local entry = string.sub(b, 1, -2) .. ',"attempt":' .. ends .. '}'
    return errors ~= false and string.find(errors, entry, 1, true) ~= nil
  end
  if ends ~= '' and tonumber(ends) ~= (tonumber(f[4]) or 0) then return false end
  local g = redis.call('HMGET', task_key, 'finished', 'runAt', 'error')
  -- A retry naming no attempt leaves no worker behind and waits until runAt, or it ended the task cancelled.
  if kind == 'retry' and f[1] == 'retrying' then return g[2] == c end
  -- A cancel records its reason: a rescue that cancelled the task at this instant recorded 'revoked'.
  if kind == 'cancel' and g[3] ~= cancelled_error(a) then return false end
  local state = (kind == 'complete' and 'completed') or (kind == 'fail' and 'failed') or 'cancelled'
  return f[1] == state and f[2] == worker and g[1] == now
end

local function settle(kind, id, now, ends, a, b, c)
  local task_key = prefix .. id
  local f = redis.call('HMGET', task_key, 'state', 'worker', 'name', 'attempts', 'cancel')
  if f[1] ~= 'active' or f[2] ~= worker then
    return settled_by_this_call(task_key, f, kind, now, ends, a, b, c) and 1 or 0
  end
  local name, attempt = f[3], tonumber(f[4]) or 0
  if ends ~= '' and tonumber(ends) ~= attempt then
    return settled_by_this_call(task_key, f, kind, now, ends, a, b, c) and 1 or 0
  end
  if kind == 'complete' then
    finish(task_key, id, 'completed', KEYS[2], now, { 'result', a })
    if attempt > 1 then redis.call('HDEL', task_key, 'error') end
    task_event('task.completed', id, name, queue, now, completed_extra(attempt, a))
  elseif kind == 'fail' then
    finish(task_key, id, 'failed', KEYS[3], now, { 'error', a })
    append_error(task_key, b, attempt)
    task_event('task.failed', id, name, queue, now, ',"attempt":' .. attempt .. ',"error":' .. a)
  elseif kind == 'retry' and f[5] == '1' then
    finish(task_key, id, 'cancelled', KEYS[4], now, { 'error', cancelled_error('revoked') })
    append_error(task_key, b, attempt)
    cancelled_event(id, name, queue, now, 'revoked')
  elseif kind == 'retry' then
    redis.call('HSET', task_key, 'state', 'retrying', 'runAt', c, 'error', a)
    redis.call('HDEL', task_key, 'worker', 'progress', 'cancel')
    append_error(task_key, b, attempt)
    zrem_later(KEYS[1], id)
    zadd_later(KEYS[5], c, id)
    task_event('task.retrying', id, name, queue, now, ',"attempt":' .. attempt .. ',"error":' .. a .. ',"runAt":' .. c)
  elseif kind == 'cancel' then
    finish(task_key, id, 'cancelled', KEYS[4], now, { 'error', cancelled_error(a) })
    cancelled_event(id, name, queue, now, a)
  else
    error('unknown settlement kind ' .. tostring(kind))
  end
  ended = ended + 1
  return 1
end

local settlements = cjson.decode(ARGV[6])
for i = 1, #settlements do
  local s = settlements[i]
  out[i] = settle(s[1], s[2], s[3], s[4], s[5], s[6], s[7])
end

flush_zsets()
local registration = ended > 0 and redis.call('HGET', KEYS[6], worker)
if registration then
  local room, rest = string.match(registration, '^(%d+)(|.*)$')
  if room then redis.call('HSET', KEYS[6], worker, (tonumber(room) + ended) .. rest) end
end
publish_events(ARGV[3], ARGV[4])
return table.concat(out)
