-- payment_failed.lua: records a declined payment for a buyer's hold.
--
-- KEYS[1] reservation hash  KEYS[2] outbox
-- ARGV[1] buyer  ARGV[2] payment reference  ARGV[3] reason
-- Returns {'recorded', attempt, r} | {'already_confirmed', r} | {'expired', r}
--       | {'not_held', r} | {'not_owner'} | {'not_found'}   (r = HGETALL)
-- Invariant: stock is untouched; the hold stays until it expires (the buyer
-- may retry). Each failure writes one payment.failed to the outbox.
local rkey, outbox = KEYS[1], KEYS[2]
local r, refusal, now = load_live_hold(rkey, ARGV[1])
if not r then return refusal end
local attempt = redis.call('HINCRBY', rkey, 'payment_failures', 1)
local attempt_s = tostring(attempt)
emit(outbox, 'payment.failed', r, tostring(now), attempt_s,
  { ref = ARGV[2], status = 'failed', reason = ARGV[3], attempt = attempt_s })
return { 'recorded', attempt, redis.call('HGETALL', rkey) }
