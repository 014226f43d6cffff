-- Task hashes: appending an attempt's error to the task's error list, and the stored error of a
-- cancelled task. `errors` holds a JSON array kept as text and extended without decoding it.
local CANCELLED_TYPE = 'TaskCancelledError'

-- `entry` is a JSON object ending in '}'; the attempt number is added to it.
local function append_error(task_key, entry, attempts)
  local with_attempt = string.sub(entry, 1, -2) .. ',"attempt":' .. (tonumber(attempts) or 0) .. '}'
  local errors = redis.call('HGET', task_key, 'errors')
  if errors and #errors > 2 and string.sub(errors, -1) == ']' then
    errors = string.sub(errors, 1, -2) .. ',' .. with_attempt .. ']'
  else
    errors = '[' .. with_attempt .. ']'
  end
  redis.call('HSET', task_key, 'errors', errors)
end

local function cancelled_error(reason)
  return '{"type":"' .. CANCELLED_TYPE .. '","message":' .. cjson.encode(reason) .. '}'
end

-- Ends a task as cancelled: its hash, and the cancelled set (scored by when it finished).
local function finish_cancelled(task_key, cancelled_key, id, reason, now)
  redis.call('HSET', task_key, 'state', 'cancelled', 'error', cancelled_error(reason), 'finished', now)
  redis.call('ZADD', cancelled_key, now, id)
end

-- A task going back to waiting leaves its attempt behind: worker, progress, cancellation; and its start
-- when the attempt does not count (its worker handed it back). A task whose worker was lost keeps that
-- attempt's start, as a retrying task keeps its failed attempt's: `started` is the start of the latest
-- counted attempt, as on SQLite.
local function leave_attempt(task_key, uncounted)
  if uncounted then
    redis.call('HDEL', task_key, 'worker', 'started', 'progress', 'cancel')
  else
    redis.call('HDEL', task_key, 'worker', 'progress', 'cancel')
  end
end

local function is_finished(state)
  return state == 'completed' or state == 'failed' or state == 'cancelled'
end
