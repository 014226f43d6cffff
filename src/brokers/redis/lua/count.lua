-- count: how many tasks one queue holds in each state, in one call (a command per list and set cost
-- `counts()` 22 round trips' worth of work per queue).
-- KEYS[1] scheduled ZSET   KEYS[2] queued lists (base name; one LIST per priority: <base>:<p>)
-- KEYS[3] active ZSET   KEYS[4] retrying ZSET   KEYS[5] completed ZSET   KEYS[6] failed ZSET
-- KEYS[7] cancelled ZSET (the order of TASK_STATES in types.ts)
-- ARGV none
-- Returns the seven counts, in the order of KEYS.
-- @flags allow-oom
local queued = 0
for p = 0, 15 do queued = queued + redis.call('LLEN', KEYS[2] .. ':' .. p) end
local counts = {}
for k = 1, 7 do
  if k == 2 then counts[k] = queued else counts[k] = redis.call('ZCARD', KEYS[k]) end
end
return counts
