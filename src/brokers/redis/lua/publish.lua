-- publish: publishes worker events (worker.online, worker.offline; heartbeats go through heartbeat.lua).
-- A script so that it runs where the prefix's keys live: on a Cluster the channel is the shard channel
-- `{P}:events`, which only that node serves, and through one node a worker's events keep their order.
-- KEYS[1] workers HASH (not read: it places the call on the node of the prefix's keys; the STRING
-- "<KEYS[1]>:published:<call header>" marks, for a minute, a call that published)
-- ARGV[1] events channel   ARGV[2] the event message, which starts with its call's header (events.ts:
-- "<origin>:<n>", unique to the call)
-- Returns the number of subscribers that received it; 0 when an earlier run of this same call published
-- it (ioredis sends a command again after reconnecting when its reply did not come, though Redis may
-- have run it: without the mark, subscribers heard the event twice).
-- @flags allow-oom
-- @include channels
local header = string.match(ARGV[2], '^(%S+)')
if header and not redis.call('SET', KEYS[1] .. ':published:' .. header, '1', 'NX', 'PX', 60000) then return 0 end
return publish_to(ARGV[1], ARGV[2])
