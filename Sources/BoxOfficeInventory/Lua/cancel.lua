-- cancel.lua: a buyer gives back a hold.
--
-- KEYS[1] reservation hash  KEYS[2] stock  KEYS[3] limits  KEYS[4] holds  KEYS[5] outbox
-- KEYS[6] the event's waiting-room admissions (q:adm)
-- ARGV[1] buyer  ARGV[2] how long the ended reservation stays (ms)
-- Returns {'cancelled', r} | {'already_cancelled', r} | {'not_held', r}
--       | {'not_owner'} | {'not_found'}   (r = HGETALL)
-- Invariants: only the owner cancels; only a held reservation is cancelled;
-- its tickets return to available stock and to the buyer's allowance exactly
-- once. Writes reservation.cancelled to the outbox. The reservation's hash
-- then lives ARGV[2] ms more (PostgreSQL keeps its booking). A running waiting-room
-- admission of the buyer ends with the cancel.
local rkey, stock, limits, holds, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local r, flat = load_owned(rkey, ARGV[1])
if not r then return flat end
if r.status == 'cancelled' then return { 'already_cancelled', flat } end
if r.status ~= 'held' then return { 'not_held', flat } end
local now = now_ms()
release(stock, limits, r)
local at = tostring(now)
redis.call('HSET', rkey, 'status', 'cancelled', 'cancelled_at', at)
redis.call('PEXPIRE', rkey, ARGV[2])
redis.call('ZREM', holds, r.rid)
redis.call('ZADD', KEYS[6], 'XX', 'LT', at, r.user)
emit(outbox, 'reservation.cancelled', r, at, '', nil)
return { 'cancelled', redis.call('HGETALL', rkey) }
