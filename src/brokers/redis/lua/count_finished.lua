-- count_finished: how many tasks of one queue finished at or after a time, in one call (for stats'
-- throughput: a ZCOUNT per finished set, O(log n) each).
-- KEYS[1] completed ZSET   KEYS[2] failed ZSET   KEYS[3] cancelled ZSET
-- ARGV[1] the time (ms)
-- Returns the number of such tasks.
-- @flags allow-oom
local n = 0
for k = 1, 3 do n = n + redis.call('ZCOUNT', KEYS[k], ARGV[1], '+inf') end
return n
