-- queue_set.lua: gives an event a waiting room, or changes its settings.
--
-- KEYS[1] the queue's settings (q)
-- ARGV[1] opens (ms)  ARGV[2] admissions a minute  ARGV[3] pre-queue (ms)  ARGV[4] session (ms)
-- ARGV[5] most running admissions (0 = no cap)  ARGV[6] paused ('1' or '0')
-- Returns the Redis time (ms).
-- Invariant: the settings change in one step; places, admissions and the admission pace kept in
-- q:line, q:adm and q:st stay as they are (a changed rate applies from the next admission).
redis.call('HSET', KEYS[1], 'opens', ARGV[1], 'rate', ARGV[2], 'pre', ARGV[3], 'session', ARGV[4],
  'max', ARGV[5], 'paused', ARGV[6])
return now_ms()
