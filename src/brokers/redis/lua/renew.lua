-- renew: extends the leases a worker still holds on tasks of one queue.
-- KEYS[1] active ZSET
-- ARGV[1] task key prefix   ARGV[2] worker id   ARGV[3] new lease expiry   then the task ids
-- Returns, per id: 0 if the worker no longer holds it, 1 if renewed, 2 if renewed and its
-- cancellation was asked.
local prefix, worker, lease_at = ARGV[1], ARGV[2], ARGV[3]
local out = {}

for i = 4, #ARGV do
  local id = ARGV[i]
  local task_key = prefix .. id
  local f = redis.call('HMGET', task_key, 'state', 'worker', 'cancel')
  if f[1] == 'active' and f[2] == worker then
    redis.call('ZADD', KEYS[1], lease_at, id)
    out[#out + 1] = f[3] == '1' and 2 or 1
  else
    out[#out + 1] = 0
  end
end

return out
