-- outbox_read.lua: the oldest entries of an event's outbox the relay has not yet delivered.
--
-- KEYS[1] outbox stream  KEYS[2] relay progress (HASH: cursor, relayed)
-- ARGV[1] most entries to return
-- Returns {cursor, entries}: cursor is the id of the last entry delivered ('' for none),
-- entries the XRANGE reply of the entries after it, oldest first.
-- Read-only. Entries up to the cursor stay in the stream until the repair loop has
-- seen them in PostgreSQL (outbox_settle.lua).
local cursor = redis.call('HGET', KEYS[2], 'cursor')
local from = cursor and ('(' .. cursor) or '-'
return { cursor or '', redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', tonumber(ARGV[1])) }
