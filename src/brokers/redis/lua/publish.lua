-- publish: publishes worker events (worker.online, worker.offline; heartbeats go through heartbeat.lua).
-- A script only so that it runs where the prefix's keys live: on a Cluster a plain PUBLISH goes to any
-- node, and messages from different nodes can reach a subscriber out of order; through one node, a
-- worker's events keep theirs.
-- KEYS[1] workers HASH (not read: it places the call on the node of the prefix's keys)
-- ARGV[1] events channel   ARGV[2] the event message
-- Returns the number of subscribers that received it.
-- @flags allow-oom
-- @include channels
return publish_to(ARGV[1], ARGV[2])
