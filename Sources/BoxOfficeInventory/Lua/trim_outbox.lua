-- trim_outbox.lua: removes the outbox entries every consumer group is done with.
--
-- KEYS[1] outbox stream
-- Returns the number of entries removed.
-- Invariant: an entry is removed only when, for every group of the stream, it
-- is older than the group's oldest pending entry (delivered, not acknowledged)
-- and not newer than its last delivered entry: it was delivered and
-- acknowledged by all. One XTRIM MINID per relay round replaces an XDEL of
-- every acknowledged id, which cost Redis more than the XADD that wrote it.
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function older(a_ms, a_seq, b_ms, b_seq)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end

local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local min_ms, min_seq
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  local ms, seq
  if tonumber(info['pending']) > 0 then
    ms, seq = parse(redis.call('XPENDING', KEYS[1], info['name'])[2])
  else
    ms, seq = parse(info['last-delivered-id'])
    seq = seq + 1
  end
  if not min_ms or older(ms, seq, min_ms, min_seq) then min_ms, min_seq = ms, seq end
end
if min_ms == 0 and min_seq <= 1 then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', min_ms, min_seq))
