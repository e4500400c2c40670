-- rate_limit.lua: one GCRA (generic cell rate algorithm) decision.
--
-- KEYS[1] the limiter's key (one per client and rule; holds the theoretical arrival time)
-- ARGV[1] emission interval in ms (period / rate)   ARGV[2] burst (requests allowed at once)
-- Returns {allowed (1|0), remaining, retry_after_ms, reset_ms}
-- Invariant: over any window a client gets at most burst + elapsed / interval
-- requests, whichever API replica it reaches (the state lives in Redis, and
-- time comes from Redis's clock).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tolerance = interval * (burst - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return { 0, 0, allow_at - now, tat - now }
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1000)
local remaining = math.floor((tolerance - (new_tat - now - interval)) / interval)
if remaining < 0 then remaining = 0 end
return { 1, remaining, 0, new_tat - now }
