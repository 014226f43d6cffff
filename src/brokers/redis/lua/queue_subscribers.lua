-- queue_subscribers: how many subscribers a queue's shard channels have on the node that holds the
-- queue (Redis Cluster), for a producer that waits until those told of a new queue have subscribed
-- (name_queues.lua).
-- KEYS[1] any key of the queue (places the call on the queue's node; not read)
-- ARGV[1] the queue's events channel   ARGV[2] its work channel
-- Returns {subscribers of ARGV[1], subscribers of ARGV[2]}.
-- @flags allow-oom
local counts = redis.call('PUBSUB', 'SHARDNUMSUB', ARGV[1], ARGV[2])
return { counts[2], counts[4] }
