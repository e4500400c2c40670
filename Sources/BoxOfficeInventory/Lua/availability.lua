-- availability.lua: one consistent snapshot of an event's categories.
--
-- KEYS[1] stock hash  KEYS[2] meta hash
-- Returns {stock as HGETALL, meta as HGETALL}
-- Read-only; both hashes are read at the same instant, so the conservation
-- law can be audited from the result.
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]) }
