-- An attempt that ends without an outcome (its worker is gone, or handed it back at shutdown): the task
-- is queued again, or finished as cancelled when its cancellation was asked meanwhile (rescue, release).
-- @include events
-- @include queue
-- @include task

-- `keys`: the script's KEYS, with the active ZSET, queued lists (base name), expiring ZSET and cancelled
-- ZSET first. `f`: the task's HMGET of state, worker, cancel, name, priority, expires, attempts.
-- `error_entry`: an error to record for the attempt, or nil. `front`: queued at the front (handed back by
-- its worker), else at the back. `...`: more fields to set on the queued task.
-- Returns true when the task was queued again, false when it ended cancelled.
local function requeue_or_cancel(keys, task_key, id, f, queue, now, error_entry, front, ...)
  redis.call('ZREM', keys[1], id)
  if f[3] == '1' then
    finish_cancelled(task_key, keys[4], id, 'revoked', now)
    cancelled_event(id, f[4], queue, now, 'revoked')
    return false
  end
  if error_entry then append_error(task_key, error_entry, f[7]) end
  redis.call('HSET', task_key, 'state', 'queued', 'ready', now, ...)
  leave_attempt(task_key, front) -- Handed back by its worker: the attempt does not count.
  enqueue_ready(keys[2], keys[3], id, f[5], f[6], front)
  queued_event(id, f[4], queue, now, f[5])
  return true
end
