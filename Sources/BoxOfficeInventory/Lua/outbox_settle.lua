-- outbox_settle.lua: removes delivered entries PostgreSQL has, and appends again the
-- events of those it lost.
--
-- KEYS[1] outbox stream  KEYS[2] relay progress (HASH: cursor, relayed)
-- ARGV[1] the id of the last entry to remove (every entry up to it leaves the stream)
-- then pairs: ARGV[2k] records to publish again (event_record's, joined by \30),
-- ARGV[2k+1] how many times they have been published again before this
-- Returns the number of entries removed.
-- Invariants: only entries the relay delivered (at or before the cursor) leave; the
-- events appended again go to the stream's end with their ids, so the worker absorbs
-- any that did arrive; `relayed` loses exactly the entries removed.
local cursor = redis.call('HGET', KEYS[2], 'cursor')
if not cursor then return 0 end
local last = ARGV[1]
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local lms, lseq = parts(last)
local cms, cseq = parts(cursor)
if not lms or lms > cms or (lms == cms and lseq > cseq) then last = cursor; lms, lseq = cms, cseq end
for i = 2, #ARGV - 1, 2 do
  redis.call('XADD', KEYS[1], '*', 'e', ARGV[i], 'r', ARGV[i + 1])
end
-- MINID is the first id kept: the one right after `last`.
local removed = redis.call('XTRIM', KEYS[1], 'MINID', lms .. '-' .. (lseq + 1))
if removed > 0 then redis.call('HINCRBY', KEYS[2], 'relayed', -removed) end
return removed
