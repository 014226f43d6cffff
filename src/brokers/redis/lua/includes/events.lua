-- Events: a script collects the events of its state changes and publishes them as ONE message on the
-- events channel: "<header> <types> <body>". <header> names the publishing broker instance and call (so
-- a subscriber can tell what was published before it subscribed), <types> is the comma-separated set
-- of event types in the body (so a subscriber can skip a message it ignores), and <body> is the grouped
-- form of event-batch.ts: a JSON array of [common fields, [task ids]] where consecutive events differ
-- only by task id (a batch of leases or acks costs one object plus its ids).
-- Event JSON is built as text: strings quoted (cjson for anything unusual), numbers from ARGV (already
-- JSON numbers) or integers from Redis, error and meta objects passed through as the JSON the caller wrote.
-- @include defaults
local groups, event_types, encoded_strings

-- Per call: the events collected, and the names, queues and worker ids already encoded (they repeat
-- across a batch: each is encoded once).
local function reset_events()
  groups, event_types, encoded_strings = {}, {}, {}
end

-- A JSON string (cjson.encode: about 0.2 us a call, less than checking the text and quoting it by hand).
local function json_text(text)
  return cjson.encode(text)
end
local function json_string(text)
  local encoded = encoded_strings[text]
  if not encoded then
    encoded = json_text(text)
    encoded_strings[text] = encoded
  end
  return encoded
end

-- A task event: the fields every task event carries, plus `extra` (a JSON fragment starting with ',').
local function task_event(kind, id, name, queue, now, extra)
  name, extra = name or '', extra or ''
  local last = groups[#groups]
  if last and last.kind == kind and last.name == name and last.queue == queue and last.now == now and last.extra == extra then
    last.ids[#last.ids + 1] = json_text(id)
    return
  end
  groups[#groups + 1] = { kind = kind, name = name, queue = queue, now = now, extra = extra, ids = { json_text(id) } }
  event_types[kind] = true
end

local function queued_event(id, name, queue, now, priority)
  task_event('task.queued', id, name, queue, now, ',"priority":' .. (tonumber(priority) or DEFAULT_PRIORITY))
end

local function cancelled_event(id, name, queue, now, reason)
  task_event('task.cancelled', id, name, queue, now, ',"reason":' .. cjson.encode(reason))
end

local function publish_events(channel, header)
  if #groups == 0 then return end
  local types, body = {}, {}
  for kind in pairs(event_types) do types[#types + 1] = kind end
  for i, g in ipairs(groups) do
    body[i] = '[{"type":"' .. g.kind .. '","name":' .. json_string(g.name) .. ',"queue":' .. json_string(g.queue) ..
      ',"timestamp":' .. g.now .. g.extra .. '},[' .. table.concat(g.ids, ',') .. ']]'
  end
  redis.call('PUBLISH', channel, header .. ' ' .. table.concat(types, ',') .. ' [' .. table.concat(body, ',') .. ']')
end
