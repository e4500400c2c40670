-- expire_due.lua: lapses an event's holds whose time is up, many in one call.
--
-- KEYS[1] stock  KEYS[2] limits  KEYS[3] holds  KEYS[4] outbox
-- ARGV[1] most holds to expire  ARGV[2] how long an ended reservation stays (ms)
-- Returns {expired, read}: read equal to ARGV[1] means more may be due.
-- Invariants: as expire.lua, for each hold (reclaim_due): only a held reservation past
-- its expiry (Redis time) lapses, exactly once however many sweepers and reserves run
-- at once; its tickets return to available stock.
local expired, _, read = reclaim_due({ stock = KEYS[1], limits = KEYS[2], holds = KEYS[3], outbox = KEYS[4] },
  now_ms(), tonumber(ARGV[1]), ARGV[2])
return { expired, read }
