-- queue_poll.lua: a waiting buyer asks where they stand; admissions due are made first.
--
-- KEYS[1] settings (q)  KEYS[2] line (q:line)  KEYS[3] seen (q:seen)  KEYS[4] admissions (q:adm)
-- KEYS[5] pace (q:st)
-- ARGV[1] buyer
-- Returns {'no_queue'} | {'not_joined', admitted now (count), now}
--       | {'ok', admitted now (count), now, state, position, eta (s), poll after (s), admission end (ms)}
-- Invariants: as queue_admit (the pace, the cap, the pause); the poll keeps the buyer's place for
-- twice the advised interval plus a minute.
local c = queue_config(KEYS[1])
if not c then return { 'no_queue' } end
local now = now_ms()
local k = { cfg = KEYS[1], line = KEYS[2], seen = KEYS[3], adm = KEYS[4], st = KEYS[5] }
local admitted = queue_admit(k, c, now)
local v = queue_view(k, c, now, ARGV[1], true)
if not v then return { 'not_joined', admitted, now } end
return { 'ok', admitted, now, v[1], v[2], v[3], v[4], v[5] }
