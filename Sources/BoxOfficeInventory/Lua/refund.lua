-- refund.lua: gives a confirmed booking back: its tickets return to sale, its charge to the buyer.
--
-- KEYS[1] reservation hash  KEYS[2] stock  KEYS[3] limits  KEYS[4] outbox
-- ARGV[1] the buyer asking, or '' for an admin  ARGV[2] who refunds: 'owner' or 'admin'
-- ARGV[3] how long the ended reservation stays (ms)
-- Returns {'refunded', r} | {'already_refunded', r} | {'not_confirmed', r}
--       | {'not_owner'} | {'not_found'}   (r = HGETALL)
-- Invariants: only a confirmed reservation is refunded, once: its tickets move from confirmed
-- to available (a seated one's seats from sold to available) and back to the buyer's
-- allowance in one step. Writes reservation.refunded and payment.refunded (the refund's
-- reference is re_ and the charge's) to the outbox; a repeated refund changes nothing and
-- returns the first result.
local rkey, stock, limits, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local r, flat
if ARGV[1] == '' then
  r, flat = load_hash(rkey)
  if #flat == 0 then return { 'not_found' } end
else
  r, flat = load_owned(rkey, ARGV[1])
  if not r then return flat end
end
if r.status == 'refunded' then return { 'already_refunded', flat } end
if r.status ~= 'confirmed' then return { 'not_confirmed', flat } end
local at = tostring(now_ms())
release(stock, limits, r, 'confirmed')
local ref = 're_' .. (r.payment_ref or r.rid)
redis.call('HSET', rkey, 'status', 'refunded', 'refunded_at', at, 'refunded_by', ARGV[2], 'refund_ref', ref)
redis.call('PEXPIRE', rkey, ARGV[3])
local records = {
  event_record('reservation.refunded', r, at, '', nil),
  event_record('payment.refunded', r, at, '', { ref = ref, status = 'refunded', reason = 'refunded by the ' .. ARGV[2] }),
}
redis.call('XADD', outbox, '*', 'e', table.concat(records, '\30'))
return { 'refunded', redis.call('HGETALL', rkey) }
