-- What a task hash leaves out when it has the usual value (codec.ts fills the same values in):
-- `priority` when it is 'normal' (DEFAULT_PRIORITY in src/priority.ts).
local DEFAULT_PRIORITY = 5
