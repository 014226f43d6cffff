-- publish: publishes worker events (worker.online, worker.offline; heartbeats go through heartbeat.lua).
-- A script so that it runs where the prefix's keys live: on a Cluster the channel is the shard channel
-- `{P}:events`, which only that node serves, and through one node a worker's events keep their order.
-- KEYS[1] workers HASH (not read: it places the call on the node of the prefix's keys)
-- ARGV[1] events channel   ARGV[2] the event message
-- Returns the number of subscribers that received it.
-- @flags allow-oom
-- @include channels
return publish_to(ARGV[1], ARGV[2])
