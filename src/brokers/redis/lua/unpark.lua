-- unpark: ends a worker's hand-off registration (handoff.lua) and closes its inbox: an empty entry is
-- pushed after whatever was handed to it, so the worker's BLMPOP returns and the worker knows it has
-- received everything.
-- KEYS[1] idle workers HASH
-- ARGV[1] worker id   ARGV[2] how long the inbox may live unread (ms)
-- Returns 1.
-- @flags allow-oom
local inbox = KEYS[1] .. ':' .. ARGV[1]
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('RPUSH', inbox, '')
redis.call('PEXPIRE', inbox, ARGV[2])
return 1
