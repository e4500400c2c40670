-- outbox_state.lua: how far an event's outbox is behind, for the metrics.
--
-- KEYS[1] outbox stream  KEYS[2] relay progress (HASH: cursor, relayed)
-- Returns {entries not yet delivered, id of the oldest of them or '', id of the oldest
-- entry not yet seen in PostgreSQL (the stream's first) or ''}.
-- Read-only.
local len = redis.call('XLEN', KEYS[1])
local progress = redis.call('HMGET', KEYS[2], 'cursor', 'relayed')
local cursor, relayed = progress[1], tonumber(progress[2] or '0')
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local undelivered = redis.call('XRANGE', KEYS[1], cursor and ('(' .. cursor) or '-', '+', 'COUNT', 1)[1]
local pending = len - relayed
if pending < 0 then pending = 0 end
return { pending, undelivered and undelivered[1] or '', first and first[1] or '' }
