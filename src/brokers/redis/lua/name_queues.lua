-- name_queues: adds queue names to the set of known queues. On a Redis Cluster it also tells the
-- subscribers of the names it added, on two channels: one for processes with event listeners, one for
-- those with workers' listeners. Each then subscribes to the new queues' shard channels (events.ts), and
-- the caller waits for that (queue_subscribers.lua) before it publishes anything there.
-- KEYS[1] queue names SET
-- ARGV[1] the channel of added names for event listeners, or '' (one server: no notices)
-- ARGV[2] the channel of added names for workers, or ''
-- ARGV[3..] queue names
-- Returns {subscribers told on ARGV[1], subscribers told on ARGV[2], the names added...}.
-- @include channels
local added = {}
for i = 3, #ARGV do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then added[#added + 1] = ARGV[i] end
end
local told_events, told_work = 0, 0
if #added > 0 and ARGV[1] ~= '' then
  local names = cjson.encode(added)
  told_events = publish_to(ARGV[1], names)
  told_work = publish_to(ARGV[2], names)
end
return { told_events, told_work, unpack(added) }
