-- The queued set: score = (15 - priority) * 2^48 + seq, so ZPOPMIN gives the highest priority first
-- and FIFO within a priority. Seq numbers are per queue and strictly increasing, kept near the
-- enqueuing clock (ms * 64) so that equal priorities of different queues interleave by time when a
-- worker merges several queues. Scores stay below 2^52: exact in a double.
-- @include zbatch
local PRIORITY_STEP = 281474976710656 -- 2^48

local seq_state = { key = nil, last = nil }

local function next_seq(seq_key, now)
  if seq_state.last == nil then
    seq_state.key = seq_key
    seq_state.last = tonumber(redis.call('GET', seq_key) or '0') or 0
  end
  local seq = math.max(seq_state.last + 1, tonumber(now) * 64)
  seq_state.last = seq
  return seq
end

-- Writes what enqueue_ready deferred (the queued-set entries, one ZADD per batch, and the last seq
-- handed out); call once before the script returns.
local function finish_queue_writes()
  flush_zsets()
  if seq_state.last ~= nil then
    redis.call('SET', seq_state.key, string.format('%.0f', seq_state.last))
  end
end

local function queued_score(priority, seq)
  local p = tonumber(priority) or 0
  if p < 0 then p = 0 elseif p > 15 then p = 15 end
  return (15 - p) * PRIORITY_STEP + seq
end

-- Puts a task (whose hash is already updated) into the queued set, and into the expiring set when it
-- has an expiry, so a lease can cancel it once it expires.
local function enqueue_ready(queued_key, expiring_key, seq_key, id, priority, expires, now)
  local score = queued_score(priority, next_seq(seq_key, now))
  zadd_later(queued_key, string.format('%.0f', score), id)
  if expires then redis.call('ZADD', expiring_key, expires, id) end
end
