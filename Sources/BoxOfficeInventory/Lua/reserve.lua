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
-- then for request i: ARGV[8+10i] reservation id  ARGV[9+10i] category  ARGV[10+10i] buyer
-- ARGV[11+10i] qty  ARGV[12+10i] '1' to honour its idempotency key, '0' without one
-- ARGV[13+10i] its reservation.held event's id (a random UUID)
-- ARGV[14+10i] '1' when the request carried a valid admission token for this buyer and event
-- ARGV[15+10i] seats: '' (general admission; best available on a seated category), 'best' (the best
-- `qty` seats) or 'pick' (those in
-- ARGV[16+10i], offsets comma-separated)  ARGV[17+10i] the seat map version the API read the
-- offsets from
-- The hold time is the event's (meta |ttl) when it has one, else ARGV[2].
-- Returns one reply per request, in order:
--         {'held', created_ms, expires_ms, amount, currency, seat ids (comma-separated) or ''}
--       | {'replayed', reservation id}
--       | {'sold_out', available} | {'limit_exceeded', limit, already}
--       | {'not_found'} | {'invalid_qty', max} | {'id_taken'}
--       | {'rate_limited', retry_after_ms, reset_ms} | {'not_admitted'} | {'event_cancelled'}
--       | {'map_changed'} (the seat map is not the version the API read)
--       | {'seats_taken', offsets comma-separated} | {'not_seated'} (seats asked of general admission)
-- Invariants: available never goes below zero and available + held +
-- confirmed stays equal to total (no oversell); a buyer's held + confirmed
-- tickets of a category never exceed its max_per_user; one idempotency key
-- of one buyer maps to one reservation; when the event has a waiting room, only a buyer
-- holding a valid admission token whose admission is running (q:adm) holds tickets. Writes the batch's reservation.held
-- events to the outbox as one entry: their records joined by \30.
-- Holds whose time is up are free stock: a request that finds too few tickets first
-- lapses due holds of the event (reclaim_due, at most `reclaim_limit` per call), so a
-- sold-out answer never counts a hold past its expiry, however far behind the sweeper is.
-- A seated category's seats move with its stock: each held seat goes from a to h, and the
-- seat string's counts stay equal to the stock hash's.
local stock, meta, limits, holds, outbox, rate_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local event, max_qty, idem_ttl = ARGV[1], tonumber(ARGV[3]), ARGV[4]
local rate_interval, rate_burst = tonumber(ARGV[5]), tonumber(ARGV[6])
local retention = ARGV[7]
local now = now_ms()
local event_settings = redis.call('HMGET', meta, '|ttl', '|cancelled')
-- Numbers become strings once each (Lua formats them with sprintf).
local created, expires = tostring(now), tostring(now + tonumber(event_settings[1] or ARGV[2]))
local cancelled = event_settings[2] == '1'
local prefix = string.sub(stock, 1, -6)
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

-- The best block of `qty` adjacent free seats in `row` (one row's states, no separator), whose
-- first seat is at offset `base`, as offsets comma-separated; nil when the row has none. Blocks
-- that leave no single free seat alone beside them come first, then the one nearest the row's
-- middle, then the leftmost.
local function best_in_row(row, base, qty)
  local mid = (1 + #row) / 2
  local best, best_orphan, best_dist
  local p = 1
  while p <= #row do
    local a, b = string.find(row, 'a+', p)
    if not a then break end
    local last = b - qty + 1
    if last >= a then
      -- The nearest placement and its neighbours, and both ends: the only two placements that
      -- leave a lone seat are a+1 and last-1, so the best one allowed is among these.
      local c = math.floor(mid - (qty - 1) / 2 + 0.5)
      for _, x in ipairs({ c - 1, c, c + 1, a, last }) do
        if x < a then x = a elseif x > last then x = last end
        local orphan = (x - a == 1 or last - x == 1) and 1 or 0
        local dist = math.abs(x + (qty - 1) / 2 - mid)
        if not best or orphan < best_orphan or (orphan == best_orphan and (dist < best_dist or (dist == best_dist and x < best))) then
          best, best_orphan, best_dist = x, orphan, dist
        end
      end
    end
    p = b + 1
  end
  if not best then return nil end
  local out = {}
  for i = 0, qty - 1 do out[i + 1] = base + best - 1 + i end
  return table.concat(out, ',')
end

-- The offset of the first seat of the row holding offset `off` of the seat string `key`.
local function row_start(key, off)
  local upto = off
  while upto > 0 do
    local lo = math.max(0, upto - 512)
    local w = redis.call('GETRANGE', key, lo, upto - 1)
    local last, p = nil, 1
    while true do
      local bar = string.find(w, '|', p, true)
      if not bar then break end
      last, p = bar, bar + 1
    end
    if last then return lo + last end
    upto = lo
  end
  return 0
end

-- The states of the row starting at offset `start` of the seat string `key` (without its '|').
local function read_row(key, start)
  local size = 512
  while true do
    local w = redis.call('GETRANGE', key, start, start + size - 1)
    local bar = string.find(w, '|', 1, true)
    if bar then return string.sub(w, 1, bar - 1) end
    if #w < size then return w end
    size = size * 4
  end
end

-- The best `qty` free seats of the seat string `key`, as offsets comma-separated (nil when fewer
-- are free), the offset of the first free seat seen (no seat before it is free), and whether
-- they are split over rows (no row had them together). The search
-- reads the string in windows from `hint` (no seat before it is free): a seated category is never
-- read whole, which for 20,000 seats would cost Redis more than the rest of the reserve. The first
-- row with `qty` adjacent free seats gives them (best_in_row). When no row has them, the rows with
-- the most free seats give them (as few rows as possible), each its longest runs first, each
-- run's part nearest the row's middle.
local function best_seats(key, qty, hint)
  local need, window = string.rep('a', qty), 2048
  local pos, first_free = hint, nil
  while true do
    local chunk = redis.call('GETRANGE', key, pos, pos + window - 1)
    if #chunk == 0 then break end
    if not first_free then
      local f = string.find(chunk, 'a', 1, true)
      if f then first_free = pos + f - 1 end
    end
    local p = string.find(chunk, need, 1, true)
    if p then
      -- The row around the block: from the window when it holds the whole row.
      local rs, q = nil, 1
      while true do
        local bar = string.find(chunk, '|', q, true)
        if not bar or bar > p then break end
        rs, q = pos + bar, bar + 1
      end
      local stop = string.find(chunk, '|', p, true)
      local row
      if rs and stop then
        row = string.sub(chunk, rs - pos + 1, stop - 1)
      else
        rs = rs or row_start(key, pos + p - 1)
        row = read_row(key, rs)
      end
      return best_in_row(row, rs, qty), first_free
    end
    if #chunk < window then break end
    pos = pos + window - qty + 1
  end
  if not first_free then return nil, hint end
  local base = row_start(key, first_free)
  local s = redis.call('GETRANGE', key, base, -1)
  local rows, at = {}, 1
  while at <= #s do
    local bar = string.find(s, '|', at, true) or (#s + 1)
    local runs, free, q = {}, 0, at
    while true do
      local a, b = string.find(s, 'a+', q)
      if not a or a >= bar then break end
      runs[#runs + 1] = { a, b }
      free, q = free + b - a + 1, b + 1
    end
    if free > 0 then rows[#rows + 1] = { start = at, stop = bar - 1, free = free, runs = runs } end
    at = bar + 1
  end
  table.sort(rows, function(x, y) return x.free > y.free or (x.free == y.free and x.start < y.start) end)
  local out, left = {}, qty
  for _, row in ipairs(rows) do
    if left == 0 then break end
    table.sort(row.runs, function(x, y)
      return x[2] - x[1] > y[2] - y[1] or (x[2] - x[1] == y[2] - y[1] and x[1] < y[1]) end)
    local mid = (row.start + row.stop) / 2
    for _, run in ipairs(row.runs) do
      if left == 0 then break end
      local n = math.min(left, run[2] - run[1] + 1)
      local x = math.floor(mid - (n - 1) / 2 + 0.5)
      if x < run[1] then x = run[1] elseif x > run[2] - n + 1 then x = run[2] - n + 1 end
      for i = 0, n - 1 do out[#out + 1] = base + x + i - 1 end
      left = left - n
    end
  end
  if left > 0 then return nil, first_free end
  return table.concat(out, ','), first_free, true
end

-- The seat ids at the offsets in `csv` of the id string `key` (slots of `width` bytes).
local function seat_names(key, width, csv)
  local out = {}
  for p in string.gmatch(csv, '%d+') do
    local n = tonumber(p) * width
    out[#out + 1] = string.match(redis.call('GETRANGE', key, n, n + width - 1), '^(.-) *$')
  end
  return table.concat(out, ',')
end

-- Lapses up to 256 due holds of the event, counting what they free in this batch's categories.
local function reclaim()
  local _, freed, read = reclaim_due(due_keys, now, 256, retention)
  for name, n in pairs(freed) do
    if categories[name] then categories[name].available = categories[name].available + n end
  end
  reclaim_limit = read < 256 and 0 or reclaim_limit - read
end

local function reserve(rkey, idem, rid, cat, user, qty_arg, use_idem, held_id, admitted, seat_mode, picked, map_version)
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
  if cancelled then return { 'event_cancelled' } end
  if queued and not (admitted and (tonumber(redis.call('ZSCORE', KEYS[8], user)) or 0) > now) then
    return { 'not_admitted' }
  end
  local qty = tonumber(qty_arg)
  if not qty or qty ~= math.floor(qty) or qty < 1 or qty > max_qty then
    return { 'invalid_qty', max_qty }
  end
  local c = categories[cat]
  if c == nil then
    local m = redis.call('HMGET', meta, cat .. '|price', cat .. '|currency', cat .. '|max', cat .. '|seats', cat .. '|seatv')
    c = m[1] and { price = m[1], currency = m[2], max = tonumber(m[3]), taken = 0,
                   available = tonumber(redis.call('HGET', stock, cat .. '|available')),
                   width = tonumber(m[4]), version = m[5] } or false
    categories[cat] = c
  end
  if not c then return { 'not_found' } end
  if c.width then
    -- A plain qty on a seated category is best available.
    if seat_mode == '' then seat_mode = 'best' end
    if seat_mode == 'pick' and map_version ~= c.version then return { 'map_changed' } end
  elseif seat_mode ~= '' then
    return { 'not_seated' }
  end
  -- The buyer's count is kept only under a per-user limit (no string made for it otherwise).
  local limit_field = c.max > 0 and cat .. '|' .. user
  if limit_field then
    local already = tonumber(redis.call('HGET', limits, limit_field) or '0')
    if already + qty > c.max then return { 'limit_exceeded', c.max, already } end
  end
  local seats, seat_ids
  if c.width and seat_mode == 'pick' then
    -- Picked seats: all free, or none held. Seats still held may be due holds' (lapsed first).
    local states = seat_key(stock, cat)
    local taken = seats_not_in(states, picked, 'a')
    while taken ~= '' and reclaim_limit > 0 do
      reclaim()
      taken = seats_not_in(states, picked, 'a')
    end
    if taken ~= '' then return { 'seats_taken', taken } end
    seats = picked
  else
    while c.available < qty and reclaim_limit > 0 do reclaim() end
    if c.available < qty then return { 'sold_out', c.available } end
  end
  -- The ids are random and checked for the whole batch at once; each one only when that
  -- check found some, and against the batch's own earlier holds.
  if minted[rkey] or (ids_in_use and redis.call('EXISTS', rkey) == 1) then return { 'id_taken' } end
  minted[rkey] = true
  if c.width then
    while not seats do
      local hint = tonumber(redis.call('HGET', meta, cat .. '|ff') or '0')
      local first_free, split
      seats, first_free, split = best_seats(seat_key(stock, cat), qty, hint)
      if first_free and first_free > hint then redis.call('HSET', meta, cat .. '|ff', first_free) end
      -- Seats split over rows, or none: due holds may free a block, so they lapse first.
      if (split or not seats) and reclaim_limit > 0 and redis.call('ZCOUNT', holds, '-inf', now) > 0 then
        seats = nil
        reclaim()
      elseif not seats then
        return { 'sold_out', c.available }
      end
    end
    set_seats(seat_key(stock, cat), seats, 'h')
    seat_ids = seat_names(prefix .. 'seatids:' .. cat, c.width, seats)
  end

  local qty_s = string.format('%d', qty)
  local r = { rid = rid, event = event, category = cat, user = user, qty = qty_s,
    amount = qty == 1 and c.price or string.format('%d', tonumber(c.price) * qty), currency = c.currency,
    created = created, expires = expires, seat_ids = seat_ids }
  c.available, c.taken = c.available - qty, c.taken + qty
  -- Without a per-user limit the buyer's count is not kept, and the hold says so,
  -- so that release() never takes from a count a later limit starts.
  if limit_field then redis.call('HINCRBY', limits, limit_field, qty_s) end
  redis.call('HSET', rkey, 'rid', rid, 'event', event, 'category', cat, 'user', user, 'qty', qty_s,
    'amount', r.amount, 'currency', r.currency, 'status', 'held', 'created', created, 'expires', expires,
    'uncounted', c.max > 0 and '0' or '1')
  if seats then redis.call('HSET', rkey, 'seats', seats, 'seat_ids', seat_ids) end
  zadd[#zadd + 1], zadd[#zadd + 2] = expires, rid
  if use_idem then redis.call('SET', idem, rid, 'EX', idem_ttl) end
  held[#held + 1] = event_record('reservation.held', r, created, '', nil, held_id)
  return { 'held', created, expires, r.amount, r.currency, seat_ids or '' }
end

local count = (#ARGV - 7) / 10
if rate_burst > 0 then
  local buyers = {}
  for i = 0, count - 1 do buyers[i + 1] = ARGV[10 + 10 * i] end
  local stored = redis.call('HMGET', rate_key, unpack(buyers))
  for i = 1, count do rates[buyers[i]] = stored[i] end
end
do
  local rkeys = {}
  for i = 0, count - 1 do rkeys[i + 1] = KEYS[9 + 2 * i] end
  ids_in_use = redis.call('EXISTS', unpack(rkeys)) > 0
end
for i = 0, count - 1 do
  local k, a = 9 + 2 * i, 8 + 10 * i
  replies[i + 1] = reserve(KEYS[k], KEYS[k + 1],
    ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4] == '1', ARGV[a + 5], ARGV[a + 6] == '1',
    ARGV[a + 7], ARGV[a + 8], ARGV[a + 9])
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
