-- Sorted-set writes of a batch, gathered per key and sent as one ZADD / ZREM each (a redis.call costs
-- more than the work it does for one member). Call flush_zsets() before the script returns.
local zadds, zrems, zkeys

local function reset_zbatch()
  zadds, zrems, zkeys = {}, {}, {}
end
local ZCHUNK = 500

local function zadd_later(key, score, member)
  local list = zadds[key]
  if not list then
    list = {}
    zadds[key] = list
    zkeys[#zkeys + 1] = { 'add', key }
  end
  list[#list + 1] = score
  list[#list + 1] = member
end

local function zrem_later(key, member)
  local list = zrems[key]
  if not list then
    list = {}
    zrems[key] = list
    zkeys[#zkeys + 1] = { 'rem', key }
  end
  list[#list + 1] = member
end

-- Removals first, then additions, each key in the order first used; what was flushed is forgotten.
local function flush_zsets()
  for _, pass in ipairs({ 'rem', 'add' }) do
    for _, entry in ipairs(zkeys) do
      if entry[1] == pass then
        local list = pass == 'rem' and zrems[entry[2]] or zadds[entry[2]]
        local step = pass == 'rem' and ZCHUNK or ZCHUNK * 2
        for i = 1, #list, step do
          redis.call(pass == 'rem' and 'ZREM' or 'ZADD', entry[2], unpack(list, i, math.min(#list, i + step - 1)))
        end
      end
    end
  end
  reset_zbatch()
end
