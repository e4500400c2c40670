-- rate_limit.lua: one GCRA (generic cell rate algorithm) decision.
--
-- KEYS[1] the limiter's key (one per client and rule; holds the theoretical arrival time)
-- ARGV[1] emission interval in ms (period / rate)   ARGV[2] burst (requests allowed at once)
-- Returns {allowed (1|0), remaining, retry_after_ms, reset_ms}
-- Invariant: over any window a client gets at most burst + elapsed / interval
-- requests, whichever API replica it reaches (the state lives in Redis, and
-- time comes from Redis's clock). The algorithm is the prelude's gcra().
local allowed, remaining, retry, reset = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
return { allowed, remaining, retry, reset }
