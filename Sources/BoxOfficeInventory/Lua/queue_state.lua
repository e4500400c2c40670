-- queue_state.lua: an event's waiting room as anyone may see it.
--
-- KEYS[1] settings (q)  KEYS[2] line (q:line)  KEYS[3] admissions (q:adm)  KEYS[4] pace (q:st)
-- Returns {} when the event has no queue, else {now, opens, rate, pre, session, max, paused,
-- waiting, running admissions, admissions so far}.
-- Reads only.
local f = redis.call('HMGET', KEYS[1], 'opens', 'rate', 'pre', 'session', 'max', 'paused')
if not f[1] then return {} end
local now = now_ms()
return { now, f[1], f[2], f[3], f[4], f[5], f[6], redis.call('ZCARD', KEYS[2]),
  redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf'), redis.call('HGET', KEYS[4], 'admitted') or '0' }
