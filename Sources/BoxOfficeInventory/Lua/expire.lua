-- expire.lua: lapses one hold whose time is up.
--
-- KEYS[1] reservation hash  KEYS[2] stock  KEYS[3] limits  KEYS[4] holds  KEYS[5] outbox
-- ARGV[1] reservation id  ARGV[2] how long the ended reservation stays (ms)
-- Returns {'expired'} | {'not_due'} | {'not_held'} | {'not_found'}
-- Invariants: only a held reservation past its expiry (Redis time) lapses,
-- and only once, however many sweepers call this at the same time; its
-- tickets return to available stock. Writes reservation.expired to the outbox.
-- The reservation's hash then lives ARGV[2] ms more (PostgreSQL keeps its booking).
-- Anything else is a no-op (a stale entry in the holds set is removed).
local rkey, stock, limits, holds, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local r, flat = load_hash(rkey)
if #flat == 0 then
  redis.call('ZREM', holds, ARGV[1])
  return { 'not_found' }
end
if r.status ~= 'held' then
  redis.call('ZREM', holds, ARGV[1])
  return { 'not_held' }
end
local now = now_ms()
if now < tonumber(r.expires) then return { 'not_due' } end
release(stock, limits, r)
local at = tostring(now)
redis.call('HSET', rkey, 'status', 'expired', 'expired_at', at)
redis.call('PEXPIRE', rkey, ARGV[2])
redis.call('ZREM', holds, r.rid)
emit(outbox, 'reservation.expired', r, at, '', nil)
return { 'expired' }
