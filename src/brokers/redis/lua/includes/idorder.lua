-- Task ids in creation order, for tasks that fall due or lose their worker at the same instant: they
-- join their queue in the order they were created (as on SQLite), not in the order of a sorted set's
-- ties (by the bytes of the stored ids). A stored id is the base64url form of a UUID (ids.ts), and every
-- id Celeriac makes is a UUIDv7, whose bytes begin with its creation time and increase within a process;
-- comparing the base64url digits by their value (their character codes put digits before letters)
-- compares the bytes. Ids that are not UUIDs ('~' and the id) come after, by their text.
-- Keeps across calls only the digit table, which never changes (built at the first call: loading the
-- library runs without the string library).
local ID_DIGITS

-- Whether stored id `a` was created before stored id `b`.
local function created_before(a, b)
  if not ID_DIGITS then
    ID_DIGITS = {}
    local alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    for i = 1, 64 do ID_DIGITS[string.byte(alphabet, i)] = i - 1 end
  end
  local plain_a, plain_b = string.byte(a, 1) == 126, string.byte(b, 1) == 126 -- '~'
  if plain_a or plain_b then
    if plain_a ~= plain_b then return plain_b end
    return a < b
  end
  for i = 1, #a do
    local x, y = ID_DIGITS[string.byte(a, i)], ID_DIGITS[string.byte(b, i)]
    if x ~= y then return (x or -1) < (y or -1) end
  end
  return #a < #b
end

-- Sorts entries { id = stored id, at = time } by time, then by creation.
local function sort_by_time_then_creation(entries)
  table.sort(entries, function(a, b)
    if a.at ~= b.at then return a.at < b.at end
    return created_before(a.id, b.id)
  end)
end
