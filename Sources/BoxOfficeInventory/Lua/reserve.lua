-- reserve.lua: holds qty tickets of a category for a buyer.
--
-- KEYS[1] stock  KEYS[2] meta  KEYS[3] limits  KEYS[4] holds  KEYS[5] outbox
-- KEYS[6] the new reservation's hash  KEYS[7] the idempotency key  KEYS[8] the buyer's rate-limit key
-- ARGV[1] reservation id  ARGV[2] event id  ARGV[3] category  ARGV[4] buyer
-- ARGV[5] qty  ARGV[6] hold ttl (ms)  ARGV[7] max qty per request
-- ARGV[8] '1' to honour KEYS[7], '0' without an idempotency key
-- ARGV[9] idempotency key lifetime (s)
-- ARGV[10] rate-limit interval (ms)  ARGV[11] rate-limit burst (0 = no limit)
-- ARGV[12] the reservation.held event's id (a random UUID)
-- Returns {'held', created_ms, expires_ms, amount, currency} | {'replayed', reservation id}
--       | {'sold_out', available} | {'limit_exceeded', limit, already}
--       | {'not_found'} | {'invalid_qty', max} | {'id_taken'}
--       | {'rate_limited', retry_after_ms, reset_ms}
-- Invariants: available never goes below zero and available + held +
-- confirmed stays equal to total (no oversell); a buyer's held + confirmed
-- tickets of the category never exceed its max_per_user; one idempotency key
-- of one buyer maps to one reservation. Writes reservation.held to the outbox.
local stock, meta, limits, holds, outbox, rkey, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local rid, event, cat, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local use_idem = ARGV[8] == '1'
local now = now_ms()

-- The buyer's request rate, checked in the same round trip (GCRA, Redis time).
if tonumber(ARGV[11]) > 0 then
  local allowed, _, retry, reset = gcra(KEYS[8], tonumber(ARGV[10]), tonumber(ARGV[11]), now)
  if allowed == 0 then return { 'rate_limited', retry, reset } end
end

if use_idem then
  local existing = redis.call('GET', idem)
  if existing then return { 'replayed', existing } end
end

local qty, max_qty = tonumber(ARGV[5]), tonumber(ARGV[7])
if not qty or qty ~= math.floor(qty) or qty < 1 or qty > max_qty then
  return { 'invalid_qty', max_qty }
end

local m = redis.call('HMGET', meta, cat .. '|price', cat .. '|currency', cat .. '|max')
if not m[1] then return { 'not_found' } end
local price, currency, max_user = tonumber(m[1]), m[2], tonumber(m[3])

local limit_field = cat .. '|' .. user
if max_user > 0 then
  local already = tonumber(redis.call('HGET', limits, limit_field) or '0')
  if already + qty > max_user then return { 'limit_exceeded', max_user, already } end
end

local available = tonumber(redis.call('HGET', stock, cat .. '|available'))
if available < qty then return { 'sold_out', available } end

if redis.call('EXISTS', rkey) == 1 then return { 'id_taken' } end

-- Numbers become strings once each (Lua formats them with sprintf): qty as the
-- caller wrote it, once it is known to be a plain integer.
local qty_s = tostring(qty)
local r = { rid = rid, event = event, category = cat, user = user, qty = qty_s,
  amount = qty == 1 and m[1] or string.format('%d', price * qty), currency = currency,
  created = tostring(now), expires = tostring(now + tonumber(ARGV[6])) }
redis.call('HINCRBY', stock, cat .. '|available', '-' .. qty_s)
redis.call('HINCRBY', stock, cat .. '|held', qty_s)
-- Without a per-user limit the buyer's count is not kept, and the hold says so,
-- so that release() never takes from a count a later limit starts.
if max_user > 0 then redis.call('HINCRBY', limits, limit_field, qty_s) end
redis.call('HSET', rkey, 'rid', r.rid, 'event', r.event, 'category', r.category, 'user', r.user, 'qty', r.qty,
  'amount', r.amount, 'currency', r.currency, 'status', 'held', 'created', r.created, 'expires', r.expires,
  'uncounted', max_user > 0 and '0' or '1')
redis.call('ZADD', holds, r.expires, rid)
if use_idem then redis.call('SET', idem, rid, 'EX', ARGV[9]) end
emit(outbox, 'reservation.held', r, r.created, '', nil, ARGV[12])
return { 'held', r.created, r.expires, r.amount, r.currency }
