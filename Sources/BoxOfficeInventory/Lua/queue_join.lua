-- queue_join.lua: a buyer takes a place in an event's waiting room, or is told the one they have.
--
-- KEYS[1] settings (q)  KEYS[2] line (q:line)  KEYS[3] seen (q:seen)  KEYS[4] admissions (q:adm)
-- KEYS[5] pace (q:st)
-- ARGV[1] buyer  ARGV[2] a random number in [0, 1) from the caller, for a pre-queue place
-- Returns {'no_queue'} | {'not_open', pre-queue start (ms), now}
--       | {joined ('1' new place, '0' the one they had), admitted now (count), now, state, position,
--          eta (s), poll after (s), admission end (ms)}
-- Invariants: one place per buyer per event (joining again returns it; a buyer whose admission
-- ended goes to the back); a pre-queue join gets a uniformly random place among the pre-queue
-- (random scores, all below those of later joins), a later join the back of the line in arrival
-- order; admissions due at this moment are made first, as a poll would.
local c = queue_config(KEYS[1])
if not c then return { 'no_queue' } end
local now = now_ms()
if now < c.opens - c.pre then return { 'not_open', c.opens - c.pre, now } end
local k = { cfg = KEYS[1], line = KEYS[2], seen = KEYS[3], adm = KEYS[4], st = KEYS[5] }
local buyer = ARGV[1]
local admitted = queue_admit(k, c, now)
local v = queue_view(k, c, now, buyer, true)
local joined = '0'
if not v or v[1] == 'expired' then
  redis.call('ZREM', k.adm, buyer)
  local place
  if now < c.opens then
    place = math.floor(tonumber(ARGV[2]) * 4503599627370496)
  else
    place = 4503599627370496 + redis.call('HINCRBY', k.st, 'seq', 1)
  end
  redis.call('ZADD', k.line, string.format('%d', place), buyer)
  v = queue_view(k, c, now, buyer, true)
  joined = '1'
end
return { joined, admitted, now, v[1], v[2], v[3], v[4], v[5] }
