-- event_settings.lua: an event's hold time and whether it still sells.
--
-- KEYS[1] meta
-- ARGV[1] the hold time (ms; '' leaves it)  ARGV[2] '1' to stop the event's sales, '' to leave it
-- Returns 'ok'. Reserves read both in the same script that holds (reserve.lua).
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], '|ttl', ARGV[1]) end
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], '|cancelled', '1') end
return 'ok'
