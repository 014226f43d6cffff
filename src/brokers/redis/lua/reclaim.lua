-- reclaim: the tasks handed over to a worker (handoff.lua) that it never received: a BLMPOP popped their
-- entries from its inbox and the reply was lost with its connection (dropped, or gone silent while Redis
-- still held it, and went on popping into it until its wait ended). The worker asks after its blocking
-- connection was replaced, and runs them at the attempt they were handed at instead of waiting for
-- their lease to expire. Changes nothing. O(tasks active in the queue); called only after a reconnection.
-- @flags allow-oom
-- KEYS[1] active ZSET   KEYS[2] idle workers HASH (the worker's inbox is the LIST "<KEYS[2]>:<worker>")
-- ARGV[1] task key prefix   ARGV[2] worker id   ARGV[3...] the ids of the tasks the worker holds
-- Returns, per task active for the worker that it does not hold and that does not wait in its inbox: id,
-- name, priority, input, execution, attempt, createdAt (as lease.lua), then its lease expiry.

local prefix, worker = ARGV[1], ARGV[2]
local skip = {}
for i = 3, #ARGV do skip[ARGV[i]] = true end
-- Entries are JSON arrays with the task id first (handoff.lua's inbox_entry); '' closes an inbox.
for _, entry in ipairs(redis.call('LRANGE', KEYS[2] .. ':' .. worker, 0, -1)) do
  local id = string.match(entry, '^%["([^"]+)"')
  if id then skip[id] = true end
end

local out = {}
local active = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #active, 2 do
  local id = active[i]
  if not skip[id] and redis.call('HGET', prefix .. id, 'worker') == worker then
    local f = redis.call('HMGET', prefix .. id, 'state', 'name', 'priority', 'input', 'exec', 'attempts', 'created')
    if f[1] == 'active' then
      local n = #out
      out[n + 1], out[n + 2], out[n + 3], out[n + 4] = id, f[2], f[3], f[4]
      out[n + 5], out[n + 6], out[n + 7], out[n + 8] = f[5], tonumber(f[6]), f[7], active[i + 1]
    end
  end
end
return out
