-- rescue: returns tasks of one queue whose worker is gone to the queue as a new attempt (includes/rescue:
-- expired leases, and hand-offs left in the inbox of a worker whose registration lapsed), recording a
-- WorkerLostError; a task whose cancellation was asked ends cancelled instead. Publishes task.queued /
-- task.cancelled.
-- KEYS[1] active ZSET   KEYS[2] queued lists (base name)   KEYS[3] expiring ZSET   KEYS[4] cancelled ZSET
-- KEYS[5] idle workers HASH (hand-off registrations; a worker's inbox is the LIST "<KEYS[5]>:<worker>")
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] limit   ARGV[5] events channel
-- ARGV[6] event header
-- Returns the number of tasks returned to the queue.
-- @include rescue

local rescued = rescue_lost(KEYS, ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]))
finish_queue_writes()
publish_events(ARGV[5], ARGV[6])
return rescued
