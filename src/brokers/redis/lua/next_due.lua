-- next_due: when the earliest scheduled or retrying task of one queue falls due: one call per queue for
-- the promoter's look (an idle promoter's most frequent call), where reading each set's head would be two.
-- KEYS[1] scheduled ZSET   KEYS[2] retrying ZSET
-- ARGV none
-- Returns that time (ms, as a string), or false when neither set holds a task. Changes nothing.
-- @flags allow-oom
local next_at
for _, key in ipairs(KEYS) do
  local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if head[2] then
    local at = tonumber(head[2])
    if not next_at or at < next_at then next_at = at end
  end
end
if not next_at then return false end
return string.format('%.0f', next_at)
