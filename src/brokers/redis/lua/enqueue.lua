-- enqueue: stores new tasks of one queue as queued or scheduled, honouring idempotency keys (scoped to
-- the queue), and publishes task.queued / task.scheduled.
-- KEYS[1] queued lists (base name; one LIST per priority: <base>:<p>)   KEYS[2] scheduled ZSET
-- KEYS[3] idempotency keys HASH   KEYS[4] expiring ZSET   KEYS[5] idle workers HASH (hand-off)
-- KEYS[6] active ZSET
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] events channel   ARGV[5] event header
-- ARGV[6] the number S of specs (what tasks of a bulk enqueue usually share), then 6 per spec: name,
-- priority, execution JSON or '' (the defaults), createdAt or '' (the time in the task's id), runAt or
-- '', expiresAt or ''
-- then 4 per task: id (stored form, ids.ts), input JSON, its spec's number (1-based), idempotency key or ''
-- Only what differs from the common case is stored: no `exec` for default options, no `priority` when
-- it is the default, no `created` when it is the time in the id, no `ready` (the time the task became
-- ready to run, for wait-time stats) while it equals the creation time.
-- Returns, for each task NOT created because an unfinished task of the queue held its key: the task's
-- position (1-based), the holder's id and its state. Every other task was created, as 'scheduled' when
-- its runAt is after now, else 'queued' (or, handed to an idle worker, 'active': see handoff.lua).
-- Safe to run twice (ioredis sends a command again when its connection dropped before the reply came,
-- though Redis may have run it): ids are new at every enqueue, so a task that exists already was stored
-- by this very call, and is left as it is.
-- @include events
-- @include queue
-- @include task
-- @include zbatch
-- @include handoff

local prefix, queue, now = ARGV[1], ARGV[2], ARGV[3]
local out = {}

local function push(list, field, value)
  list[#list + 1] = field
  list[#list + 1] = value
end

local function holder_of(key)
  local existing = redis.call('HGET', KEYS[3], key)
  if not existing then return nil end
  local state = redis.call('HGET', prefix .. existing, 'state')
  if state and not is_finished(state) then return existing, state end
  return nil
end

local started = {} -- task.started events of handed-off tasks, published after every task.queued

local function store(id, input, spec, key)
  local name, priority, execution, created, run_at, expires = spec[1], spec[2], spec[3], spec[4], spec[5], spec[6]
  local task_key = prefix .. id
  local scheduled = run_at ~= '' and tonumber(run_at) > tonumber(now)
  local target
  if not scheduled and (expires == '' or tonumber(expires) > tonumber(now)) then
    target = handoff_target(KEYS[1], KEYS[5], now)
  end
  local fields = { 'state', scheduled and 'scheduled' or (target and 'active' or 'queued'), 'name', name, 'input', input }
  if tonumber(priority) ~= DEFAULT_PRIORITY then push(fields, 'priority', priority) end
  if created ~= '' then push(fields, 'created', created) end
  if execution ~= '' then push(fields, 'exec', execution) end
  if scheduled then push(fields, 'runAt', run_at) end
  if expires ~= '' then push(fields, 'expires', expires) end
  if key ~= '' then
    push(fields, 'key', key)
    redis.call('HSET', KEYS[3], key, id)
  end
  if target then
    push(fields, 'worker', target.worker)
    push(fields, 'started', now)
    push(fields, 'attempts', 1)
  end
  redis.call('HSET', task_key, unpack(fields))
  if scheduled then
    redis.call('ZADD', KEYS[2], run_at, id)
    task_event('task.scheduled', id, name, queue, now, ',"priority":' .. priority .. ',"runAt":' .. run_at)
  elseif target then
    hand_off(target, KEYS[6], now, { id, name, priority, execution, '1', created }, input)
    queued_event(id, name, queue, now, priority)
    started[#started + 1] = { id, name, ',"workerId":' .. json_string(target.worker) .. ',"attempt":1' }
  else
    handoff_stop()
    enqueue_ready(KEYS[1], KEYS[4], id, priority, expires ~= '' and expires or nil)
    queued_event(id, name, queue, now, priority)
  end
end

local specs = {}
local spec_count = tonumber(ARGV[6])
local first_task = 7 + spec_count * 6
for n = 1, spec_count do
  local at = 7 + (n - 1) * 6
  specs[n] = { ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5] }
end

-- The tasks a first run of this call stored already (see the header): one EXISTS over all of them,
-- and one per task only when some exist.
local stored_before = {}
local task_keys = {}
for i = first_task, #ARGV, 4 do task_keys[#task_keys + 1] = prefix .. ARGV[i] end
if #task_keys > 0 and redis.call('EXISTS', unpack(task_keys)) > 0 then
  for i = first_task, #ARGV, 4 do
    if redis.call('EXISTS', prefix .. ARGV[i]) == 1 then stored_before[ARGV[i]] = true end
  end
end

local position = 0
for i = first_task, #ARGV, 4 do
  position = position + 1
  local id, key = ARGV[i], ARGV[i + 3]
  -- A task a first run of this call stored is left alone, and reported as created, as that run did.
  if not stored_before[id] then
    local existing, existing_state
    if key ~= '' then existing, existing_state = holder_of(key) end
    if existing then
      out[#out + 1] = position
      out[#out + 1] = existing
      out[#out + 1] = existing_state
    else
      store(id, ARGV[i + 1], specs[tonumber(ARGV[i + 2])], key)
    end
  end
end

finish_queue_writes()
finish_handoffs(KEYS[5])
flush_zsets()
for _, event in ipairs(started) do task_event('task.started', event[1], event[2], queue, now, event[3]) end
publish_events(ARGV[4], ARGV[5])
return out
