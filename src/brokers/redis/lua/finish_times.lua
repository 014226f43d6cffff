-- finish_times: what stats' percentiles need of finished tasks of one queue, for many tasks in one call
-- (a call per task cost a stats read 20,000 round trips' worth of work): when each task became ready to
-- run (its `ready` field, else its creation time: `created`, else the time in its id) and started.
-- KEYS[1] the queue's completed ZSET (it names the queue's shard; the tasks' keys are built from ARGV[1])
-- ARGV[1] task key prefix   ARGV[2..] stored task ids (at most 1,000 a call, so no call holds Redis long)
-- Returns {ready, created, started, ...}: three values per id, in order, each nil when absent.
-- @flags allow-oom
local prefix = ARGV[1]
local reply = {}
for i = 2, #ARGV do
  local fields = redis.call('HMGET', prefix .. ARGV[i], 'ready', 'created', 'started')
  local at = (i - 2) * 3
  reply[at + 1], reply[at + 2], reply[at + 3] = fields[1], fields[2], fields[3]
end
return reply
