-- seats_state.lua: one consistent snapshot of an event's seated categories, due holds lapsed first.
--
-- KEYS[1] stock  KEYS[2] meta  KEYS[3] limits  KEYS[4] holds  KEYS[5] outbox
-- ARGV[1] most due holds to lapse first  ARGV[2] how long an ended reservation stays (ms)
-- then ARGV[3..] the categories to read
-- Returns, per category asked: {name, map version or false, seat string or false, available, held,
-- confirmed} (false for a category without a map), all read at one instant, so the seat string's
-- counts can be audited against the stock.
reclaim_due({ stock = KEYS[1], limits = KEYS[3], holds = KEYS[4], outbox = KEYS[5] }, now_ms(), tonumber(ARGV[1]), ARGV[2])
local prefix = string.sub(KEYS[1], 1, -6)
local out = {}
for i = 3, #ARGV do
  local cat = ARGV[i]
  local v = redis.call('HGET', KEYS[2], cat .. '|seatv')
  local s = redis.call('HMGET', KEYS[1], cat .. '|available', cat .. '|held', cat .. '|confirmed')
  out[#out + 1] = { cat, v or false, v and redis.call('GET', prefix .. 'seats:' .. cat) or false,
                    tonumber(s[1] or '0'), tonumber(s[2] or '0'), tonumber(s[3] or '0') }
end
return out
