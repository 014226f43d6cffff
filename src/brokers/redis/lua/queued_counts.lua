-- queued_counts: how many tasks wait in one queue at each priority, once the queued tasks whose expiry
-- passed are cancelled (reason 'expired'), as a lease of the queue would first. A worker of several
-- queues plans its lease across them from these counts: counted before the expired ones went, a queue
-- won part of the lease with tasks it then could not give, and tasks of other queues waited. Publishes
-- task.cancelled for the expired tasks.
-- KEYS[1] queued lists (base name; one LIST per priority: <base>:<p>)   KEYS[2] expiring ZSET
-- KEYS[3] cancelled ZSET
-- ARGV[1] task key prefix   ARGV[2] queue   ARGV[3] now   ARGV[4] events channel   ARGV[5] event header
-- Returns the 16 lists' lengths, priority 15 first.
-- @include events
-- @include task
-- @include queue
-- @include expire

cancel_expired(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])
local lengths = {}
for p = 15, 0, -1 do lengths[#lengths + 1] = redis.call('LLEN', KEYS[1] .. ':' .. p) end
publish_events(ARGV[4], ARGV[5])
return lengths
