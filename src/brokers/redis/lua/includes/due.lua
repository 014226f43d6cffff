-- When the earliest task of one queue's scheduled and retrying sets falls due (maintain).

-- That time (ms, as a string), or false when neither set holds a task.
local function next_due_at(scheduled_key, retrying_key)
  local next_at
  for _, key in ipairs({ scheduled_key, retrying_key }) do
    local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if head[2] then
      local at = tonumber(head[2])
      if not next_at or at < next_at then next_at = at end
    end
  end
  if not next_at then return false end
  return string.format('%.0f', next_at)
end
