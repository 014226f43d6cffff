-- enqueue: stores new tasks of one queue as queued or scheduled, honouring idempotency keys (scoped to
-- the queue), and publishes task.queued / task.scheduled.
-- KEYS[1] queued ZSET   KEYS[2] scheduled ZSET   KEYS[3] seq counter   KEYS[4] idempotency keys HASH
-- KEYS[5] expiring ZSET
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] events channel   ARGV[5] event header
-- then 10 per task: id, name, priority, input JSON, execution JSON or '' (the defaults), createdAt,
-- order stamp, runAt or '', expiresAt or '', idempotency key or ''
-- Only what differs from the common case is stored: no `exec` for default options, no `ready` (the time
-- the task became ready to run, for wait-time stats) while it equals `created`.
-- Returns, per task: id, 1 if created or 0 if an unfinished task held its key, state.
-- @include events
-- @include queue
-- @include task

local prefix, queue, now = ARGV[1], ARGV[2], ARGV[3]
local out = {}

local function push(list, field, value)
  list[#list + 1] = field
  list[#list + 1] = value
end

local function holder_of(key)
  local existing = redis.call('HGET', KEYS[4], key)
  if not existing then return nil end
  local state = redis.call('HGET', prefix .. existing, 'state')
  if state and not is_finished(state) then return existing, state end
  return nil
end

local function store(id, name, priority, input, execution, created, order, run_at, expires, key)
  local task_key = prefix .. id
  local scheduled = run_at ~= '' and tonumber(run_at) > tonumber(now)
  local state = scheduled and 'scheduled' or 'queued'
  local fields = { 'state', state, 'name', name, 'priority', priority, 'input', input, 'created', created,
    'order', order }
  if execution ~= '' then push(fields, 'exec', execution) end
  if scheduled then push(fields, 'runAt', run_at) end
  if expires ~= '' then push(fields, 'expires', expires) end
  if key ~= '' then
    push(fields, 'key', key)
    redis.call('HSET', KEYS[4], key, id)
  end
  redis.call('HSET', task_key, unpack(fields))
  if scheduled then
    redis.call('ZADD', KEYS[2], run_at, id)
    task_event('task.scheduled', id, name, queue, now, ',"priority":' .. priority .. ',"runAt":' .. run_at)
  else
    enqueue_ready(KEYS[1], KEYS[5], KEYS[3], id, priority, expires ~= '' and expires or nil, now)
    queued_event(id, name, queue, now, priority)
  end
  return state
end

for i = 6, #ARGV, 10 do
  local id, key = ARGV[i], ARGV[i + 9]
  local existing, existing_state
  if key ~= '' then existing, existing_state = holder_of(key) end
  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
    out[#out + 1] = existing_state
  else
    local state = store(id, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6],
      ARGV[i + 7], ARGV[i + 8], key)
    out[#out + 1] = id
    out[#out + 1] = 1
    out[#out + 1] = state
  end
end

save_seq()
publish_events(ARGV[4], ARGV[5])
return out
