-- release: hands active tasks of one queue back to it at once (graceful shutdown, or leased tasks that
-- waited too long for a slot), at the front of their priority's list, in the order given, where they were
-- when leased; the interrupted attempt is not counted. A task whose cancellation was asked ends
-- cancelled instead. Publishes task.queued / task.cancelled.
-- KEYS[1] active ZSET   KEYS[2] queued lists (base name)   KEYS[3] expiring ZSET   KEYS[4] cancelled ZSET
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] worker id   ARGV[4] now   ARGV[5] events channel
-- ARGV[6] event header   then per task: its id, and the attempt the worker holds it in or '' (any: a
-- task leased again to this worker after its earlier lease ran out is handed back too)
-- Returns the number of tasks handed back to the queue.
-- @include requeue

local prefix, queue, worker, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local released = 0

for i = 7, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  local task_key = prefix .. id
  local f = redis.call('HMGET', task_key, 'state', 'worker', 'cancel', 'name', 'priority', 'expires', 'attempts')
  if f[1] == 'active' and f[2] == worker and (attempt == '' or f[7] == attempt) then
    -- The interrupted attempt is not counted.
    if requeue_or_cancel(KEYS, task_key, id, f, queue, now, nil, true, 'attempts', math.max(0, (tonumber(f[7]) or 1) - 1)) then
      released = released + 1
    end
  end
end

finish_queue_writes()
publish_events(ARGV[5], ARGV[6])
return released
