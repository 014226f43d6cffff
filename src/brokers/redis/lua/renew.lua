-- renew: extends the leases a worker still holds on tasks of one queue.
-- KEYS[1] active ZSET
-- ARGV[1] task key prefix   ARGV[2] worker id   ARGV[3] new lease expiry   then per task: its id, and
-- the attempt the worker holds it in or '' (any: a lease of a later attempt is renewed too)
-- Returns, per task: 0 if the worker no longer holds it (in that attempt), 1 if renewed, 2 if renewed
-- and its cancellation was asked.
local prefix, worker, lease_at = ARGV[1], ARGV[2], ARGV[3]
local out = {}

for i = 4, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  local f = redis.call('HMGET', prefix .. id, 'state', 'worker', 'cancel', 'attempts')
  if f[1] == 'active' and f[2] == worker and (attempt == '' or f[4] == attempt) then
    redis.call('ZADD', KEYS[1], lease_at, id)
    out[#out + 1] = f[3] == '1' and 2 or 1
  else
    out[#out + 1] = 0
  end
end

return out
