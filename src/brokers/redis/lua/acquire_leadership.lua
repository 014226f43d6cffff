-- acquire_leadership: takes or keeps the leadership of a maintenance service for a while.
-- KEYS[1] leader key
-- ARGV[1] holder id   ARGV[2] time to live in ms
-- Returns 1 if the holder leads (it took the free key or already held it), 0 otherwise.
-- @flags allow-oom
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
