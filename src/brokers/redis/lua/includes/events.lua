-- Events: a script collects the events of its state changes and publishes them as ONE message on the
-- events channel: "<header> <types> <body>". <header> names the publishing broker instance and call (so
-- a subscriber can tell what was published before it subscribed), <types> is the comma-separated set
-- of event types in the body (so a subscriber can skip a message it ignores), and <body> is the grouped
-- form of event-batch.ts: a JSON array of [common fields, [task ids]] where consecutive events differ
-- only by task id (a batch of leases or acks costs one object plus its ids).
-- Event JSON is built as text: strings quoted (cjson for anything unusual), numbers from ARGV (already
-- JSON numbers) or integers from Redis, error and meta objects passed through as the JSON the caller wrote.
-- @include defaults
-- @include channels
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

local function group_json(g, ids)
  return '[{"type":"' .. g.kind .. '","name":' .. json_string(g.name) .. ',"queue":' .. json_string(g.queue) ..
    ',"timestamp":' .. g.now .. g.extra .. '},[' .. table.concat(ids, ',') .. ']]'
end

-- The work channel, "<events channel>:work", carries in the same form only what a worker acts on, so a
-- worker need not receive the whole event stream: tasks that became ready in a list (not those this call
-- started, handed to a worker), scheduled and retrying tasks (their times wake the maintainer), and
-- revoked tasks (a running attempt stops).
-- (A literal table: library code that runs at load time cannot call ipairs.)
local IS_WORK_KIND = { ['task.queued'] = true, ['task.scheduled'] = true, ['task.retrying'] = true, ['task.revoked'] = true }

local function publish_work(channel, header)
  local any = false
  for kind in pairs(IS_WORK_KIND) do any = any or event_types[kind] ~= nil end
  if not any then return end
  local started
  if event_types['task.queued'] and event_types['task.started'] then
    started = {}
    for _, g in ipairs(groups) do
      if g.kind == 'task.started' then
        for _, id in ipairs(g.ids) do started[id] = true end
      end
    end
  end
  local types, typed, body = {}, {}, {}
  for _, g in ipairs(groups) do
    if IS_WORK_KIND[g.kind] then
      local ids = g.ids
      if started and g.kind == 'task.queued' then
        ids = {}
        for _, id in ipairs(g.ids) do
          if not started[id] then ids[#ids + 1] = id end
        end
      end
      if #ids > 0 then
        if not typed[g.kind] then typed[g.kind], types[#types + 1] = true, g.kind end
        body[#body + 1] = group_json(g, ids)
      end
    end
  end
  if #body > 0 then
    publish_to(channel .. ':work', header .. ' ' .. table.concat(types, ',') .. ' [' .. table.concat(body, ',') .. ']')
  end
end

local function publish_events(channel, header)
  if #groups == 0 then return end
  local types, body = {}, {}
  for kind in pairs(event_types) do types[#types + 1] = kind end
  for i, g in ipairs(groups) do body[i] = group_json(g, g.ids) end
  publish_to(channel, header .. ' ' .. table.concat(types, ',') .. ' [' .. table.concat(body, ',') .. ']')
  publish_work(channel, header)
end
