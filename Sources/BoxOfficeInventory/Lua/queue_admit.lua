-- queue_admit.lua: makes the admissions due now in an event's waiting room (the API's admitter
-- calls it a few times a second, so admission keeps its pace when few buyers poll).
--
-- KEYS[1] settings (q)  KEYS[2] line (q:line)  KEYS[3] seen (q:seen)  KEYS[4] admissions (q:adm)
-- KEYS[5] pace (q:st)
-- Returns {admitted now (count), waiting, running admissions, admissions a minute (the setting)},
-- or {-1} when the event has no queue.
-- Invariants: as queue_admit in prelude.lua.
local c = queue_config(KEYS[1])
if not c then return { -1 } end
local now = now_ms()
local k = { cfg = KEYS[1], line = KEYS[2], seen = KEYS[3], adm = KEYS[4], st = KEYS[5] }
local admitted = queue_admit(k, c, now)
return { admitted, redis.call('ZCARD', k.line), redis.call('ZCOUNT', k.adm, '(' .. now, '+inf'), c.rate }
