-- due_holds.lua: lists holds whose expiry has passed, by Redis time.
--
-- KEYS[1] holds sorted set
-- ARGV[1] most ids to return
-- Returns a list of reservation ids, oldest expiry first.
-- Read-only; the sweeper passes each id to expire.lua, which re-checks it.
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
