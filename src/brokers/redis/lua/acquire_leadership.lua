-- acquire_leadership: takes or keeps the leadership of a maintenance service for a while, and tells the
-- leader the names of the queues it is to look at (what it would read next: both sets' members).
-- KEYS[1] leader key   KEYS[2] queue names SET   KEYS[3] names of queues being forgotten SET (includes/unused)
-- ARGV[1] holder id   ARGV[2] time to live in ms
-- Returns {1, queue name, ...} if the holder leads (it took the free key or already held it), {0}
-- otherwise.
-- @flags allow-oom
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return { 0 } end
if holder then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
local reply = redis.call('SUNION', KEYS[2], KEYS[3])
table.insert(reply, 1, 1)
return reply
