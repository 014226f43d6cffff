-- progress: records the progress of a running attempt, for the worker holding it. Publishes
-- task.progress.
-- KEYS[1] task HASH
-- ARGV[1] task id   ARGV[2] queue   ARGV[3] worker id   ARGV[4] now   ARGV[5] progress JSON
-- ARGV[6] percent (a JSON number)   ARGV[7] meta JSON or ''   ARGV[8] events channel   ARGV[9] header
-- Returns 1 if recorded, 0 if the worker does not hold the task.
-- @include events

local f = redis.call('HMGET', KEYS[1], 'state', 'worker', 'name')
if f[1] ~= 'active' or f[2] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[5])
local extra = ',"workerId":' .. cjson.encode(ARGV[3]) .. ',"percent":' .. ARGV[6]
if ARGV[7] ~= '' then extra = extra .. ',"meta":' .. ARGV[7] end
task_event('task.progress', ARGV[1], f[3], ARGV[2], ARGV[4], extra)
publish_events(ARGV[8], ARGV[9])
return 1
