-- next_due: when the earliest scheduled or retrying task of one queue falls due.
-- KEYS[1] scheduled ZSET   KEYS[2] retrying ZSET
-- ARGV none
-- Returns that time (ms, as a string), or false when neither set holds a task. Changes nothing.
-- @flags allow-oom
-- @include due

return next_due_at(KEYS[1], KEYS[2])
