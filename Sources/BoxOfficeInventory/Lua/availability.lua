-- availability.lua: one consistent snapshot of an event's categories, due holds counted free.
--
-- KEYS[1] stock hash  KEYS[2] meta hash  KEYS[3] limits  KEYS[4] holds  KEYS[5] outbox
-- ARGV[1] most due holds to lapse first  ARGV[2] how long an ended reservation stays (ms)
-- Returns {stock as HGETALL, meta as HGETALL}
-- Holds whose time is up are lapsed first (reclaim_due, as the sweeper would), so the
-- stock a buyer sees is whole at a hold's expiry, however far behind the sweeper is.
-- Both hashes are then read at the same instant, so the conservation law can be
-- audited from the result.
reclaim_due({ stock = KEYS[1], limits = KEYS[3], holds = KEYS[4], outbox = KEYS[5] }, now_ms(), tonumber(ARGV[1]), ARGV[2])
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]) }
