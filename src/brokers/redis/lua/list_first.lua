-- list_first: the first ids of one queue in each state asked for, in one call (`listTasks`; it sent 22
-- commands per queue before: a ZRANGE per set and an LRANGE per queued list).
-- KEYS[1] scheduled ZSET   KEYS[2] queued lists (base name; one LIST per priority: <base>:<p>)
-- KEYS[3] active ZSET   KEYS[4] retrying ZSET   KEYS[5] completed ZSET   KEYS[6] failed ZSET
-- KEYS[7] cancelled ZSET (the order of TASK_STATES in types.ts)
-- ARGV[1] limit   ARGV[2..] the states to read, each as the index of its key (1-7)
-- Returns, for each state asked for and in that order, up to `limit` stored ids: queued ones in lease
-- order (the highest priority first, each list from its head), the others by score.
-- @flags allow-oom
local limit = tonumber(ARGV[1])
local out = {}
for a = 2, #ARGV do
  local k = tonumber(ARGV[a])
  if k == 2 then
    local ids = {}
    for p = 15, 0, -1 do
      if #ids >= limit then break end
      local got = redis.call('LRANGE', KEYS[2] .. ':' .. p, 0, limit - #ids - 1)
      for i = 1, #got do ids[#ids + 1] = got[i] end
    end
    out[#out + 1] = ids
  else
    out[#out + 1] = redis.call('ZRANGE', KEYS[k], 0, limit - 1)
  end
end
return out
