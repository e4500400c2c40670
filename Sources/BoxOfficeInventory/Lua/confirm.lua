-- confirm.lua: turns a buyer's hold into a purchase, on time or late.
--
-- KEYS[1] reservation hash  KEYS[2] stock  KEYS[3] holds  KEYS[4] outbox
-- KEYS[5] the event's waiting-room admissions (q:adm)  KEYS[6] limits  KEYS[7] meta
-- ARGV[1] buyer  ARGV[2] payment reference  ARGV[3] how long the ended reservation stays (ms)
-- Returns {'confirmed', r} | {'already_confirmed', r} | {'expired', r} | {'event_cancelled', r}
--       | {'not_held', r} | {'not_owner'} | {'not_found'}   (r = HGETALL)
-- Invariants: only the owner confirms; held moves to confirmed in one step (the total is
-- unchanged); a repeated confirm changes nothing and returns the first result. A payment that
-- comes after the hold's time (late) still buys its tickets when they are there: a hold not yet
-- swept still holds them; an expired one takes the same stock (or the same seats) again if it is
-- free and the buyer's limit allows, else the charge is owed back: payment.refund_required (its
-- id derived from the payment reference, so a retry records it once) and 'expired'. Writes
-- reservation.confirmed, with the payment reference, to the outbox. The reservation's hash then
-- lives ARGV[3] ms more (PostgreSQL keeps its booking). A running waiting-room admission of the
-- buyer ends with the confirm.
local rkey, stock, holds, outbox, limits, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6], KEYS[7]
local r, flat = load_owned(rkey, ARGV[1])
if not r then return flat end
if r.status == 'confirmed' then return { 'already_confirmed', flat } end
if r.status ~= 'held' and r.status ~= 'expired' then return { 'not_held', flat } end
if redis.call('HGET', meta, '|cancelled') == '1' then return { 'event_cancelled', flat } end
local now = now_ms()
local at = tostring(now)
local qty = tonumber(r.qty)
local late = now >= tonumber(r.expires)
local seats = r.seats and r.seats ~= '' and seat_key(stock, r.category)

if r.status == 'held' then
  redis.call('HINCRBY', stock, r.category .. '|held', -qty)
  redis.call('ZREM', holds, r.rid)
else
  -- Expired: the same tickets again, if they are free and the buyer may still have them.
  local free
  if seats then
    free = seats_not_in(seats, r.seats, 'a') == ''
  else
    free = tonumber(redis.call('HGET', stock, r.category .. '|available') or '0') >= qty
  end
  local limit_field = r.uncounted ~= '1' and r.category .. '|' .. r.user
  if free and limit_field then
    local max = tonumber(redis.call('HGET', meta, r.category .. '|max') or '0')
    free = max == 0 or tonumber(redis.call('HGET', limits, limit_field) or '0') + qty <= max
  end
  if not free then
    emit(outbox, 'payment.refund_required', r, at, ARGV[2],
      { ref = ARGV[2], status = 'refund_owed', reason = 'the hold had expired and its tickets were sold' })
    return { 'expired', flat }
  end
  redis.call('HINCRBY', stock, r.category .. '|available', -qty)
  if limit_field then redis.call('HINCRBY', limits, limit_field, qty) end
end
if seats then set_seats(seats, r.seats, 's') end
redis.call('HINCRBY', stock, r.category .. '|confirmed', qty)
redis.call('HSET', rkey, 'status', 'confirmed', 'confirmed_at', at, 'payment_ref', ARGV[2])
if late then redis.call('HSET', rkey, 'late', '1') end
redis.call('PEXPIRE', rkey, ARGV[3])
redis.call('ZADD', KEYS[5], 'XX', 'LT', at, r.user)
emit(outbox, 'reservation.confirmed', r, at, '', { ref = ARGV[2], status = 'succeeded', reason = late and 'late' or nil })
return { 'confirmed', redis.call('HGETALL', rkey) }
