-- confirm.lua: turns a buyer's live hold into a purchase.
--
-- KEYS[1] reservation hash  KEYS[2] stock  KEYS[3] holds  KEYS[4] outbox
-- KEYS[5] the event's waiting-room admissions (q:adm)
-- ARGV[1] buyer  ARGV[2] payment reference  ARGV[3] how long the ended reservation stays (ms)
-- Returns {'confirmed', r} | {'already_confirmed', r} | {'expired', r}
--       | {'not_held', r} | {'not_owner'} | {'not_found'}   (r = HGETALL)
-- Invariants: only the owner confirms; only a held, unexpired hold is
-- confirmed; held moves to confirmed in one step (the total is unchanged); a
-- repeated confirm changes nothing and returns the first result. Writes
-- reservation.confirmed, with the payment reference, to the outbox. The
-- reservation's hash then lives ARGV[3] ms more (PostgreSQL keeps its booking). A
-- running waiting-room admission of the buyer ends with the confirm.
local rkey, stock, holds, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local r, refusal, now = load_live_hold(rkey, ARGV[1])
if not r then return refusal end

local qty = tonumber(r.qty)
redis.call('HINCRBY', stock, r.category .. '|held', -qty)
redis.call('HINCRBY', stock, r.category .. '|confirmed', qty)
local at = tostring(now)
redis.call('HSET', rkey, 'status', 'confirmed', 'confirmed_at', at, 'payment_ref', ARGV[2])
redis.call('PEXPIRE', rkey, ARGV[3])
redis.call('ZREM', holds, r.rid)
redis.call('ZADD', KEYS[5], 'XX', 'LT', at, r.user)
emit(outbox, 'reservation.confirmed', r, at, '', { ref = ARGV[2], status = 'succeeded' })
return { 'confirmed', redis.call('HGETALL', rkey) }
