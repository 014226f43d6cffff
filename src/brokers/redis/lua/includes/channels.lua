-- Publishing, where the channel's name says how: a channel that starts with a hash tag ("{P:q}:events",
-- "{P}:events": a Redis Cluster, keys.ts) is a shard channel, published with SPUBLISH, so the message
-- stays on the shard that holds the slot (a Cluster forwards every PUBLISH to every node); any other
-- ("P:events": one server) with PUBLISH. A shard channel shares its hash tag with the keys of the call.
local function publish_to(channel, message)
  if string.byte(channel, 1) == 123 then return redis.call('SPUBLISH', channel, message) end -- '{'
  return redis.call('PUBLISH', channel, message)
end
