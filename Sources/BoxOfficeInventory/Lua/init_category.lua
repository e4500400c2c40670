-- init_category.lua: creates or updates a category's stock and meta.
--
-- KEYS[1] stock hash   KEYS[2] meta hash
-- ARGV[1] category  ARGV[2] total_stock  ARGV[3] price (minor units)
-- ARGV[4] currency  ARGV[5] max_per_user (0 = no limit)
-- Returns {'created', total, available, held, confirmed}
--       | {'updated', total, available, held, confirmed}
--       | {'below_committed', held, confirmed}
-- Invariant: available + held + confirmed == total; the total never drops
-- below what is already held or sold. Idempotent: the same call twice leaves
-- the same state.
local cat, total = ARGV[1], tonumber(ARGV[2])
local stock, meta = KEYS[1], KEYS[2]
redis.call('HSET', meta, cat .. '|price', ARGV[3], cat .. '|currency', ARGV[4], cat .. '|max', ARGV[5])
if redis.call('HEXISTS', stock, cat .. '|total') == 0 then
  redis.call('HSET', stock, cat .. '|total', total, cat .. '|available', total, cat .. '|held', 0, cat .. '|confirmed', 0)
  return { 'created', total, total, 0, 0 }
end
local held = tonumber(redis.call('HGET', stock, cat .. '|held'))
local confirmed = tonumber(redis.call('HGET', stock, cat .. '|confirmed'))
if total < held + confirmed then
  return { 'below_committed', held, confirmed }
end
local available = total - held - confirmed
redis.call('HSET', stock, cat .. '|total', total, cat .. '|available', available)
return { 'updated', total, available, held, confirmed }
