-- reserve.lua: holds tickets of one event for one or more buyers, in the order given.
--
-- The API coalesces the reserves of one event that arrive while an earlier call
-- of this script is on its way (Coalescer), so that a rush costs Redis one call,
-- one clock read, one stock update, one read and one write of the buyers' rate
-- limits, one check that the new reservation ids are free, one ZADD and one outbox
-- entry per batch rather than per buyer. Each request is decided
-- exactly as if it ran alone, after those before it.
--
-- KEYS[1] stock  KEYS[2] meta  KEYS[3] limits  KEYS[4] holds  KEYS[5] outbox
-- KEYS[6] the buyers' reserve rate limits (a hash by buyer)
-- KEYS[7] the event's waiting-room settings (q)  KEYS[8] its admissions (q:adm)
-- then for request i (0-based): KEYS[9+2i] the new reservation's hash,
-- KEYS[10+2i] the idempotency key
-- ARGV[1] event id  ARGV[2] hold ttl (ms)  ARGV[3] max qty per request
-- ARGV[4] idempotency key lifetime (s)  ARGV[5] rate-limit interval (ms)
-- ARGV[6] rate-limit burst (0 = no limit)  ARGV[7] how long an ended reservation stays (ms)
-- then for request i: ARGV[8+7i] reservation id  ARGV[9+7i] category  ARGV[10+7i] buyer
-- ARGV[11+7i] qty  ARGV[12+7i] '1' to honour its idempotency key, '0' without one
-- ARGV[13+7i] its reservation.held event's id (a random UUID)
-- ARGV[14+7i] '1' when the request carried a valid admission token for this buyer and event
-- Returns one reply per request, in order:
--         {'held', created_ms, expires_ms, amount, currency} | {'replayed', reservation id}
--       | {'sold_out', available} | {'limit_exceeded', limit, already}
--       | {'not_found'} | {'invalid_qty', max} | {'id_taken'}
--       | {'rate_limited', retry_after_ms, reset_ms} | {'not_admitted'}
-- Invariants: available never goes below zero and available + held +
-- confirmed stays equal to total (no oversell); a buyer's held + confirmed
-- tickets of a category never exceed its max_per_user; one idempotency key
-- of one buyer maps to one reservation; when the event has a waiting room, only a buyer
-- holding a valid admission token whose admission is running (q:adm) holds tickets. Writes the batch's reservation.held
-- events to the outbox as one entry: their records joined by \30.
-- Holds whose time is up are free stock: a request that finds too few tickets first
-- lapses due holds of the event (reclaim_due, at most `reclaim_limit` per call), so a
-- sold-out answer never counts a hold past its expiry, however far behind the sweeper is.
local stock, meta, limits, holds, outbox, rate_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local event, max_qty, idem_ttl = ARGV[1], tonumber(ARGV[3]), ARGV[4]
local rate_interval, rate_burst = tonumber(ARGV[5]), tonumber(ARGV[6])
local retention = ARGV[7]
local now = now_ms()
-- Numbers become strings once each (Lua formats them with sprintf).
local created, expires = tostring(now), tostring(now + tonumber(ARGV[2]))
local categories = {}  -- name -> its meta and stock as this batch leaves them, or false: no such category
local zadd = { 'ZADD', holds }
local held = {}   -- the outbox records of the batch's holds
-- buyer -> their rate limit's time: as read for the batch (a string, or false for none),
-- then a number once the batch has moved it
local rates = {}
local replies = {}
local ids_in_use = false  -- whether some new reservation key of the batch exists already
local minted = {}    -- the reservation keys this batch has written
local reclaim_limit = 1024  -- due holds this call may lapse, in chunks of 256, before answering sold_out
local due_keys = { stock = stock, limits = limits, holds = holds, outbox = outbox }
local queued = redis.call('EXISTS', KEYS[7]) == 1

local function reserve(rkey, idem, rid, cat, user, qty_arg, use_idem, held_id, admitted)
  -- The buyer's request rate, checked in the same round trip (GCRA, Redis time).
  if rate_burst > 0 then
    local allowed, _, retry, reset, tat = gcra_decide(rates[user], rate_interval, rate_burst, now)
    if allowed == 0 then return { 'rate_limited', retry, reset } end
    rates[user] = tat
  end
  if use_idem then
    local existing = redis.call('GET', idem)
    if existing then return { 'replayed', existing } end
  end
  if queued and not (admitted and (tonumber(redis.call('ZSCORE', KEYS[8], user)) or 0) > now) then
    return { 'not_admitted' }
  end
  local qty = tonumber(qty_arg)
  if not qty or qty ~= math.floor(qty) or qty < 1 or qty > max_qty then
    return { 'invalid_qty', max_qty }
  end
  local c = categories[cat]
  if c == nil then
    local m = redis.call('HMGET', meta, cat .. '|price', cat .. '|currency', cat .. '|max')
    c = m[1] and { price = m[1], currency = m[2], max = tonumber(m[3]), taken = 0,
                   available = tonumber(redis.call('HGET', stock, cat .. '|available')) } or false
    categories[cat] = c
  end
  if not c then return { 'not_found' } end
  -- The buyer's count is kept only under a per-user limit (no string made for it otherwise).
  local limit_field = c.max > 0 and cat .. '|' .. user
  if limit_field then
    local already = tonumber(redis.call('HGET', limits, limit_field) or '0')
    if already + qty > c.max then return { 'limit_exceeded', c.max, already } end
  end
  while c.available < qty and reclaim_limit > 0 do
    local _, freed, read = reclaim_due(due_keys, now, 256, retention)
    for name, n in pairs(freed) do
      if categories[name] then categories[name].available = categories[name].available + n end
    end
    reclaim_limit = read < 256 and 0 or reclaim_limit - read
  end
  if c.available < qty then return { 'sold_out', c.available } end
  -- The ids are random and checked for the whole batch at once; each one only when that
  -- check found some, and against the batch's own earlier holds.
  if minted[rkey] or (ids_in_use and redis.call('EXISTS', rkey) == 1) then return { 'id_taken' } end
  minted[rkey] = true

  local qty_s = string.format('%d', qty)
  local r = { rid = rid, event = event, category = cat, user = user, qty = qty_s,
    amount = qty == 1 and c.price or string.format('%d', tonumber(c.price) * qty), currency = c.currency,
    created = created, expires = expires }
  c.available, c.taken = c.available - qty, c.taken + qty
  -- Without a per-user limit the buyer's count is not kept, and the hold says so,
  -- so that release() never takes from a count a later limit starts.
  if limit_field then redis.call('HINCRBY', limits, limit_field, qty_s) end
  redis.call('HSET', rkey, 'rid', rid, 'event', event, 'category', cat, 'user', user, 'qty', qty_s,
    'amount', r.amount, 'currency', r.currency, 'status', 'held', 'created', created, 'expires', expires,
    'uncounted', c.max > 0 and '0' or '1')
  zadd[#zadd + 1], zadd[#zadd + 2] = expires, rid
  if use_idem then redis.call('SET', idem, rid, 'EX', idem_ttl) end
  held[#held + 1] = event_record('reservation.held', r, created, '', nil, held_id)
  return { 'held', created, expires, r.amount, r.currency }
end

local count = (#ARGV - 7) / 7
if rate_burst > 0 then
  local buyers = {}
  for i = 0, count - 1 do buyers[i + 1] = ARGV[10 + 7 * i] end
  local stored = redis.call('HMGET', rate_key, unpack(buyers))
  for i = 1, count do rates[buyers[i]] = stored[i] end
end
do
  local rkeys = {}
  for i = 0, count - 1 do rkeys[i + 1] = KEYS[9 + 2 * i] end
  ids_in_use = redis.call('EXISTS', unpack(rkeys)) > 0
end
for i = 0, count - 1 do
  local k, a = 9 + 2 * i, 8 + 7 * i
  replies[i + 1] = reserve(KEYS[k], KEYS[k + 1],
    ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4] == '1', ARGV[a + 5], ARGV[a + 6] == '1')
end
-- The batch's holds move stock once per category, enter the expiry index in one
-- ZADD and the outbox in one entry.
for cat, c in pairs(categories) do
  if c and c.taken > 0 then
    redis.call('HINCRBY', stock, cat .. '|available', -c.taken)
    redis.call('HINCRBY', stock, cat .. '|held', c.taken)
  end
end
if #zadd > 2 then redis.call(unpack(zadd)) end
-- The buyers' new times (those the batch moved), in one write. Each lies at most burst
-- intervals ahead, so the hash outlives them all by a second, and goes once the event has
-- been quiet that long.
local hset = { 'HSET', rate_key }
for user, tat in pairs(rates) do
  if type(tat) == 'number' then
    hset[#hset + 1] = user
    hset[#hset + 1] = string.format('%d', tat)
  end
end
if #hset > 2 then
  redis.call(unpack(hset))
  redis.call('PEXPIRE', rate_key, string.format('%d', rate_interval * rate_burst + 1000))
end
if #held > 0 then redis.call('XADD', outbox, '*', 'e', table.concat(held, '\30')) end
return replies
