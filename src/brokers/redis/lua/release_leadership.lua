-- release_leadership: gives up the leadership of a maintenance service, if the holder still has it, so
-- another process takes over at once instead of after the TTL (a worker's graceful shutdown).
-- KEYS[1] leader key
-- ARGV[1] holder id
-- Returns 1 if the holder had the leadership (now free), 0 otherwise.
-- @flags allow-oom
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
