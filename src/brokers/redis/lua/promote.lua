-- promote: moves scheduled and retrying tasks of one queue whose time has come to the back of their
-- queued list, oldest due first. Publishes task.queued.
-- KEYS[1] scheduled ZSET   KEYS[2] retrying ZSET   KEYS[3] queued lists (base name)   KEYS[4] expiring ZSET
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] limit   ARGV[5] events channel
-- ARGV[6] event header
-- Returns the number of tasks promoted.
-- @include promote

local promoted = promote_due(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]))
finish_queue_writes()
publish_events(ARGV[5], ARGV[6])
return promoted
