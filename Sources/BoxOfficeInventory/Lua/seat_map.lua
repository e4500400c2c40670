-- seat_map.lua: gives a category its seat map, before its first reservation.
--
-- KEYS[1] stock  KEYS[2] meta  KEYS[3] the category's seat string  KEYS[4] its seat ids
-- KEYS[5] its map (JSON)
-- ARGV[1] category  ARGV[2] the seat string, every seat available ('a', rows separated by '|')
-- ARGV[3] the seat ids, each in a slot of ARGV[4] bytes  ARGV[4] the slot width
-- ARGV[5] the map as JSON  ARGV[6] how many seats  ARGV[7] the map's version (a fresh token, also in the JSON)
-- Returns {'set', version} | {'not_found'} | {'committed', held, confirmed}
-- Invariants: a category's map changes only while none of its tickets are held or sold; its
-- stock becomes its seat count, all available, and each change has a new version (the API
-- reserves against the version it read).
local stock, meta, cat = KEYS[1], KEYS[2], ARGV[1]
local s = redis.call('HMGET', stock, cat .. '|held', cat .. '|confirmed')
if not s[1] then return { 'not_found' } end
if tonumber(s[1]) > 0 or tonumber(s[2]) > 0 then return { 'committed', tonumber(s[1]), tonumber(s[2]) } end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('SET', KEYS[4], ARGV[3])
redis.call('SET', KEYS[5], ARGV[5])
local version = ARGV[7]
redis.call('HSET', meta, cat .. '|seats', ARGV[4], cat .. '|seatv', version, cat .. '|ff', 0)
redis.call('HSET', stock, cat .. '|total', ARGV[6], cat .. '|available', ARGV[6])
return { 'set', version }
