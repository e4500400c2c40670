-- prelude.lua: helpers shared by every BoxOffice inventory script.
--
-- The Swift side (InventoryScripts.Prelude) prepends to each script the
-- helpers it calls, directly or through another helper, before hashing and
-- loading it, so every script is still one atomic EVALSHA and does not make
-- closures it never calls. After this header the file holds only local
-- functions, each running from its `local function name(` line to the next
-- one (blank lines and whole-line comments are left out), and a helper calls only
-- those above it; it reads and writes nothing by itself.
--
-- Key layout of one event E (every key carries the hash tag {ev:E}, so each
-- script touches one Cluster slot):
--   bo:{ev:E}:stock     HASH  <cat>|total, <cat>|available, <cat>|held, <cat>|confirmed
--   bo:{ev:E}:meta      HASH  <cat>|price, <cat>|currency, <cat>|max (0 = no per-user limit); for a seated
--                             category <cat>|seats (the width of a seat id's slot) and <cat>|seatv (the map's
--                             version) and <cat>|ff (a seat offset no free seat comes before); for the event
--                             |ttl (its hold time, ms) and |cancelled (1: no more sales)
--   bo:{ev:E}:seats:<cat>  STRING a seated category's seats, one character each (a available, h held,
--                             s sold), rows in the map's order separated by '|'; a seat is its 0-based offset
--   bo:{ev:E}:seatids:<cat> STRING the seat ids (section-row-label) at the same offsets, each in a slot of
--                             <cat>|seats bytes, padded with spaces
--   bo:{ev:E}:seatmap:<cat> STRING the map as the admin gave it (JSON), for GET /events/{id}/seats
--   bo:{ev:E}:limits    HASH  <cat>|<user> -> tickets held + confirmed by that user, in a category
--                             with a per-user limit (each hold records uncounted = 0 or 1)
--   bo:{ev:E}:holds     ZSET  reservation id -> expiry (ms, Redis time)
--   bo:{ev:E}:r:<token> HASH  one reservation (once ended, it expires after the retention); a seated one
--                             has seats (offsets, comma-separated) and seat_ids
--   bo:{ev:E}:idem:<h>  STRING reservation id for an idempotency key (h = sha1 of user and key)
--   bo:{ev:E}:outbox    STREAM events for the relay: entries of one field e, one event's record or a
--                             reserve batch's records joined by \30 (see event_record)
--   bo:{ev:E}:relay     STRING the relay holding the outbox's lease (relay_lease.lua), with a TTL
--   bo:{ev:E}:relayed   HASH  cursor -> id of the last entry the relay delivered; relayed -> how many
--                             delivered entries are still in the stream (outbox_advance.lua); the
--                             repair loop removes them once PostgreSQL has them (outbox_settle.lua)
--   bo:{ev:E}:repair    STRING the repair loop holding the event's lease, with a TTL
--   bo:{ev:E}:rl        HASH  <user> -> the buyer's reserve rate limit (GCRA theoretical arrival time, ms);
--                             it expires once no reserve of the event has come for burst intervals and a second
--   bo:{ev:E}:q         HASH  the waiting room's settings: opens (ms), rate (admissions a minute), pre and
--                             session (ms), max (active admissions, 0 = no cap), paused (0/1)
--   bo:{ev:E}:q:line    ZSET  waiting buyer -> place: a random number below 2^52 for a pre-queue join,
--                             2^52 + arrival number after the opening (so pre-queue joins come first)
--   bo:{ev:E}:q:seen    HASH  waiting buyer -> until when (ms) the place is kept without a poll
--   bo:{ev:E}:q:adm     ZSET  admitted buyer -> end of the admission (ms); ended ones keep a past score
--   bo:{ev:E}:q:st      HASH  next -> when the next admission is due (ms, GCRA); seq -> arrivals after
--                             the opening; admitted -> admissions so far

-- Milliseconds since 1970 from the Redis server's clock, never the caller's.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A deterministic UUID (version 5 layout) from a seed: the same transition of
-- the same reservation always gets the same event id, so re-publishing it is
-- absorbed by the worker (by processed_events). reservation.held, which the
-- worker absorbs by the booking row it created, takes a random id from the API
-- instead (event_record's `id`): the SHA-1 and the string work cost every reserve about
-- a tenth of its script.
local function event_uuid(seed)
  local h = redis.sha1hex(seed)
  local variant = string.format('%x', 8 + (tonumber(string.sub(h, 17, 17), 16) % 4))
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-5' .. string.sub(h, 14, 16) .. '-'
    .. variant .. string.sub(h, 18, 20) .. '-' .. string.sub(h, 21, 32)
end

-- HGETALL as a table.
local function load_hash(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t, flat
end

-- One event as the outbox stores it: the event's 17 fields joined by the unit
-- separator (\31), in OutboxEntry.order (id, type, rid, event, category, user,
-- qty, amount, currency, at, created, expires, payment_ref, payment_status,
-- reason, attempt, seats), absent ones empty. `at` is the event's time (ms) as a
-- string; `p` is nil or the payment's ref, status, reason and attempt; `id` is
-- the event's id, or nil for event_uuid's.
local function event_record(kind, r, at, seq, p, id)
  p = p or {}
  return table.concat({
    id or event_uuid(r.rid .. '|' .. kind .. '|' .. seq), kind, r.rid, r.event, r.category, r.user,
    r.qty, r.amount, r.currency, at, r.created, r.expires,
    p.ref or '', p.status or '', p.reason or '', p.attempt or '', r.seat_ids or '' }, '\31')
end

-- Appends one event to the outbox stream as one field, e, holding its
-- event_record. (reserve.lua appends a batch's events as one entry, their
-- records joined by the record separator, \30.)
local function emit(outbox, kind, r, at, seq, p, id)
  return redis.call('XADD', outbox, '*', 'e', event_record(kind, r, at, seq, p, id))
end

-- Sets the seats at the offsets in `csv` (comma-separated) of the seat string `key` to `state`.
local function set_seats(key, csv, state)
  for p in string.gmatch(csv, '%d+') do redis.call('SETRANGE', key, p, state) end
end

-- The offsets in `csv` whose seat in `key` is not in `state` (comma-separated; '' when none).
local function seats_not_in(key, csv, state)
  local out = {}
  for p in string.gmatch(csv, '%d+') do
    if redis.call('GETRANGE', key, p, p) ~= state then out[#out + 1] = p end
  end
  return table.concat(out, ',')
end

-- The seat string of category `cat` of the event whose stock hash is `stock`.
local function seat_key(stock, cat)
  return string.sub(stock, 1, -6) .. 'seats:' .. cat
end

-- Makes the seats at the offsets in `csv` of category `cat` available again, and lowers the
-- category's first-free hint (meta <cat>|ff: no seat before it is free) to the first of them.
local function free_seats(stock, cat, csv)
  set_seats(seat_key(stock, cat), csv, 'a')
  local meta, first = string.sub(stock, 1, -6) .. 'meta', nil
  for p in string.gmatch(csv, '%d+') do
    local n = tonumber(p)
    if not first or n < first then first = n end
  end
  if first and first < tonumber(redis.call('HGET', meta, cat .. '|ff') or '0') then
    redis.call('HSET', meta, cat .. '|ff', first)
  end
end

-- Gives a hold's `qty` tickets back to the buyer's allowance when the hold was
-- counted against a per-user limit (r.uncounted ~= '1').
local function give_back_allowance(limits, r, qty)
  if r.uncounted == '1' then return end
  local left = redis.call('HINCRBY', limits, r.category .. '|' .. r.user, -qty)
  if left <= 0 then redis.call('HDEL', limits, r.category .. '|' .. r.user) end
end

-- Returns a reservation's tickets to available stock, from `from` (held by default, or
-- confirmed for a refund), its seats to available, and, when the hold was counted against a
-- per-user limit, to the buyer's allowance.
local function release(stock, limits, r, from)
  from = from or 'held'
  local qty = tonumber(r.qty)
  redis.call('HINCRBY', stock, r.category .. '|available', qty)
  redis.call('HINCRBY', stock, r.category .. '|' .. from, -qty)
  give_back_allowance(limits, r, qty)
  if r.seats and r.seats ~= '' then free_seats(stock, r.category, r.seats) end
end

-- Expires up to `max` of an event's holds whose time is up at `now` (Redis time), oldest
-- first, each as expire.lua would: its tickets back to available stock and to the buyer's
-- allowance, status expired, its hash kept `retention` ms more, one reservation.expired
-- event (its id derived from the reservation, so it is the same whoever expires it). Stock
-- moves once per category (a seated hold's seats become available) and the events go to the
-- outbox as one entry. k is a table of
-- the event's keys: stock, limits, holds, outbox. Returns how many it expired, the tickets
-- each category got back, and how many due entries it read (max: more may be due).
local function reclaim_due(k, now, max, retention)
  local due = redis.call('ZRANGEBYSCORE', k.holds, '-inf', now, 'LIMIT', 0, max)
  local freed, records = {}, {}
  if #due == 0 then return 0, freed, 0 end
  local prefix = string.sub(k.holds, 1, -6) .. 'r:'
  local event = string.match(due[1], '^(.*)%.')
  local at = tostring(now)
  -- Every hold is read before anything is written: on a Redis Cluster slot mid-migration a
  -- hold's hash may already have moved, and the error that read raises must leave no half state.
  local rkeys, fields = {}, {}
  for i = 1, #due do
    rkeys[i] = prefix .. string.sub(due[i], #event + 2)
    -- Only the fields the event record and the release need (fewer strings made than HGETALL).
    fields[i] = redis.call('HMGET', rkeys[i], 'status', 'category', 'user', 'qty', 'amount', 'currency', 'created', 'expires', 'uncounted',
      'seats', 'seat_ids')
  end
  for i = 1, #due do
    local rid, rkey, f = due[i], rkeys[i], fields[i]
    if f[1] == 'held' then
      local r = { rid = rid, event = event, category = f[2], user = f[3], qty = f[4], amount = f[5], currency = f[6],
                  created = f[7], expires = f[8], uncounted = f[9], seat_ids = f[11] }
      local qty = tonumber(r.qty)
      freed[r.category] = (freed[r.category] or 0) + qty
      give_back_allowance(k.limits, r, qty)
      if f[10] then free_seats(k.stock, r.category, f[10]) end
      redis.call('HSET', rkey, 'status', 'expired', 'expired_at', at)
      redis.call('PEXPIRE', rkey, retention)
      records[#records + 1] = event_record('reservation.expired', r, at, '', nil)
    end
  end
  redis.call('ZREM', k.holds, unpack(due))
  for cat, qty in pairs(freed) do
    redis.call('HINCRBY', k.stock, cat .. '|available', qty)
    redis.call('HINCRBY', k.stock, cat .. '|held', -qty)
  end
  if #records > 0 then redis.call('XADD', k.outbox, '*', 'e', table.concat(records, '\30')) end
  return #records, freed, #due
end

-- Loads a reservation for its buyer. Returns r, flat (the HGETALL list), or
-- nil and the reply to give: {'not_found'} or {'not_owner'}.
local function load_owned(rkey, user)
  local r, flat = load_hash(rkey)
  if #flat == 0 then return nil, { 'not_found' } end
  if r.user ~= user then return nil, { 'not_owner' } end
  return r, flat
end

-- Loads the buyer's live hold (held and not yet expired). Returns r, flat and
-- now (Redis time), or nil and the reply to give: {'not_found'}, {'not_owner'},
-- {'already_confirmed', flat}, {'not_held', flat} or {'expired', flat} (due, or expired already).
local function load_live_hold(rkey, user)
  local r, flat = load_owned(rkey, user)
  if not r then return nil, flat end
  if r.status == 'confirmed' then return nil, { 'already_confirmed', flat } end
  if r.status == 'expired' then return nil, { 'expired', flat } end
  if r.status ~= 'held' then return nil, { 'not_held', flat } end
  local now = now_ms()
  if now >= tonumber(r.expires) then return nil, { 'expired', flat } end
  return r, flat, now
end

-- One GCRA (generic cell rate algorithm) decision, by itself: at most `burst`
-- requests at once, then one per `interval` ms, at `now` (Redis's clock), for a
-- buyer or client whose stored theoretical arrival time is `stored` (nil or false:
-- none). Returns allowed (1|0), remaining, retry_after_ms, reset_ms and, when
-- allowed, the new theoretical arrival time (now + reset_ms) to store.
local function gcra_decide(stored, interval, burst, now)
  local tolerance = interval * (burst - 1)
  local tat = tonumber(stored or now)
  if tat < now then tat = now end
  local allow_at = tat - tolerance
  if now < allow_at then
    return 0, 0, allow_at - now, tat - now
  end
  local new_tat = tat + interval
  local remaining = math.floor((tolerance - (new_tat - now - interval)) / interval)
  if remaining < 0 then remaining = 0 end
  return 1, remaining, 0, new_tat - now, new_tat
end

-- One GCRA decision on the string `key`, which keeps the time and expires with it.
-- Returns allowed (1|0), remaining, retry_after_ms, reset_ms.
local function gcra(key, interval, burst)
  local now = now_ms()
  local allowed, remaining, retry, reset, new_tat = gcra_decide(redis.call('GET', key), interval, burst, now)
  if allowed == 1 then
    -- Whole milliseconds, formatted as integers: a number argument would go through
    -- Redis's '%.17g' (glibc's multi-precision float printing).
    redis.call('SET', key, string.format('%d', new_tat), 'PX', string.format('%d', math.ceil(reset) + 1000))
  end
  return allowed, remaining, retry, reset
end

-- The waiting room's settings as numbers, or nil when the event has no queue.
local function queue_config(key)
  local f = redis.call('HMGET', key, 'opens', 'rate', 'pre', 'session', 'max', 'paused')
  if not f[1] then return nil end
  return { opens = tonumber(f[1]), rate = tonumber(f[2]), pre = tonumber(f[3]), session = tonumber(f[4]),
           max = tonumber(f[5]) or 0, paused = f[6] == '1' }
end

-- Admits the buyers at the front whose turn has come at `now`: at most `rate` a minute, one every
-- 60000 / rate ms (GCRA on Redis time, so any number of API replicas admit no more), at most two
-- seconds' worth at once after a lull, none while paused or before the opening, and with `max`
-- set, no more than `max` admissions running. A place not polled in time (q:seen) is skipped
-- without using the turn: its buyer's admission is recorded as already ended. k: the queue's keys
-- (cfg, line, seen, adm, st). Returns how many it admitted.
local function queue_admit(k, c, now)
  if c.paused or now < c.opens then return 0 end
  local interval = 60000 / c.rate
  local burst = math.max(1, math.floor(c.rate / 30))
  local nxt = tonumber(redis.call('HGET', k.st, 'next')) or c.opens
  local earliest = now - (burst - 1) * interval
  if nxt < earliest then nxt = earliest end
  if nxt > now then return 0 end
  local can = math.floor((now - nxt) / interval) + 1
  if c.max > 0 then
    can = math.min(can, c.max - redis.call('ZCOUNT', k.adm, '(' .. now, '+inf'))
  end
  local admitted, looked = 0, 0
  while admitted < can and looked < can + 256 do
    local front = redis.call('ZPOPMIN', k.line)
    if #front == 0 then break end
    looked = looked + 1
    local buyer = front[1]
    local kept = tonumber(redis.call('HGET', k.seen, buyer)) or 0
    redis.call('HDEL', k.seen, buyer)
    if kept < now then
      redis.call('ZADD', k.adm, 0, buyer)
    else
      redis.call('ZADD', k.adm, now + c.session, buyer)
      admitted = admitted + 1
    end
  end
  if admitted > 0 then
    redis.call('HSET', k.st, 'next', string.format('%d', nxt + admitted * interval))
    redis.call('HINCRBY', k.st, 'admitted', admitted)
  end
  return admitted
end

-- Where `buyer` stands at `now`: {state, position, eta (s), poll after (s), admission end (ms)},
-- or nil when the buyer has no place. A waiting buyer's poll interval grows with the distance to
-- the front (a quarter of the ETA, 1 to 30 s); with `touch` the place is kept until twice that
-- plus a minute from now.
local function queue_view(k, c, now, buyer, touch)
  local ends = tonumber(redis.call('ZSCORE', k.adm, buyer))
  if ends then
    if ends > now then return { 'admitted', 0, 0, 30, ends } end
    return { 'expired', 0, 0, 30, ends }
  end
  local rank = redis.call('ZRANK', k.line, buyer)
  if not rank then return nil end
  local position = rank + 1
  local eta = position * 60000 / c.rate
  if now < c.opens then eta = eta + (c.opens - now) end
  local eta_s = math.ceil(eta / 1000)
  local poll = math.min(30, math.max(1, math.ceil(eta_s / 4)))
  if touch then redis.call('HSET', k.seen, buyer, string.format('%d', now + (2 * poll + 60) * 1000)) end
  return { 'waiting', position, eta_s, poll, 0 }
end
