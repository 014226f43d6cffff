-- progress: records the progress of a running attempt, for the worker holding it. Publishes
-- task.progress.
-- KEYS[1] task HASH
-- ARGV[1] task id   ARGV[2] queue   ARGV[3] worker id   ARGV[4] now   ARGV[5] progress JSON
-- ARGV[6] percent (a JSON number)   ARGV[7] meta JSON or ''   ARGV[8] events channel   ARGV[9] header
-- ARGV[10] the attempt it is of, or '' (any): a stale attempt's progress does not land on the next one
-- Returns 1 if recorded, 0 if the worker does not hold the task (in that attempt).
-- The task keeps the header ("<origin>:<n>", n counting the origin's calls) of the last progress call it
-- recorded ('pcall'): a call of the same origin numbered no higher (sent again after its reply was lost,
-- maybe after later calls ran) changes nothing and publishes nothing.
-- @include events

local f = redis.call('HMGET', KEYS[1], 'state', 'worker', 'name', 'pcall', 'attempts')
if f[1] ~= 'active' or f[2] ~= ARGV[3] then return 0 end
if ARGV[10] and ARGV[10] ~= '' and tonumber(ARGV[10]) ~= tonumber(f[5]) then return 0 end
if f[4] then
  local last_origin, last_n = string.match(f[4], '^(.*):(%d+)$')
  local origin, n = string.match(ARGV[9], '^(.*):(%d+)$')
  if last_origin and last_origin == origin and tonumber(n) <= tonumber(last_n) then return 1 end
end
redis.call('HSET', KEYS[1], 'progress', ARGV[5], 'pcall', ARGV[9])
local extra = ',"workerId":' .. cjson.encode(ARGV[3]) .. ',"percent":' .. ARGV[6]
if ARGV[7] ~= '' then extra = extra .. ',"meta":' .. ARGV[7] end
task_event('task.progress', ARGV[1], f[3], ARGV[2], ARGV[4], extra)
publish_events(ARGV[8], ARGV[9])
return 1
