-- relay_lease.lua: takes, keeps or gives up the lease on an event's outbox stream.
--
-- KEYS[1] the stream's lease (STRING, the holder's name, with a TTL)
-- ARGV[1] the relay's name  ARGV[2] lease time (ms), or '0' to give the lease up
-- Returns 1 when ARGV[1] holds the lease (after this call), 0 otherwise.
-- Invariant: at most one relay holds a stream's lease at a time; a holder that
-- stops renewing it (killed, frozen) loses it after the lease time. The lease is
-- written again only once half of it has run, so a relay that polls an idle
-- stream every few milliseconds does not append to the AOF each time.
local holder = redis.call('GET', KEYS[1])
local ms = tonumber(ARGV[2])
if ms == 0 then
  if holder == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return 0
end
if holder == ARGV[1] then
  if redis.call('PTTL', KEYS[1]) < ms / 2 then redis.call('PEXPIRE', KEYS[1], ms) end
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ms)
return 1
