-- maintain: one pass of the maintenance leader over one queue, in one call (an idle leader's most
-- frequent call per queue): returns tasks whose worker is gone to the queue (includes/rescue), promotes
-- scheduled and retrying tasks whose time has come (includes/promote), and tells when the next one falls
-- due (includes/due), in that order; then cancels the queued tasks whose expiry passed (includes/
-- expire), as a lease would, so that a task no worker leases still ends. Publishes task.queued /
-- task.cancelled.
-- KEYS[1] active ZSET   KEYS[2] queued lists (base name)   KEYS[3] expiring ZSET   KEYS[4] cancelled ZSET
-- KEYS[5] idle workers HASH   KEYS[6] scheduled ZSET   KEYS[7] retrying ZSET
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] limit (of each kind)
-- ARGV[5] events channel   ARGV[6] event header
-- Returns {rescued, promoted, next due time (ms, as a string) or false}: a next due time at or before
-- now means more were due than the limit.
-- @include rescue
-- @include promote
-- @include due
-- @include expire

local prefix, queue, now, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local rescued = rescue_lost(KEYS, prefix, queue, now, limit)
local promoted = promote_due(KEYS[6], KEYS[7], KEYS[2], KEYS[3], prefix, queue, now, limit)
finish_queue_writes()
-- After the queue writes: a task promoted just now is in its list when its expiry is checked.
cancel_expired(KEYS[2], KEYS[3], KEYS[4], prefix, queue, now)
publish_events(ARGV[5], ARGV[6])
return { rescued, promoted, next_due_at(KEYS[6], KEYS[7]) }
