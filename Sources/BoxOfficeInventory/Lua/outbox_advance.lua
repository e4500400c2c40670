-- outbox_advance.lua: records that the relay delivered entries of an event's outbox.
--
-- KEYS[1] relay progress (HASH: cursor, relayed)
-- ARGV[1] the cursor the entries were read after ('' for none)  ARGV[2] id of the last
-- entry delivered  ARGV[3] how many entries that is
-- Returns 1 when recorded; 0 when the cursor moved since the read (another relay,
-- after this one's lease lapsed), whose record then stands: this relay's deliveries were
-- repeats of its, or go again, which the worker absorbs.
-- Invariant: the cursor only moves forward, and `relayed` counts the entries of the
-- stream at or before it (outbox_settle.lua takes back those it removes).
local cursor = redis.call('HGET', KEYS[1], 'cursor') or ''
if cursor ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'cursor', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'relayed', ARGV[3])
return 1
