-- wrk script of scripts/bench-http.sh (and bench-scale.sh, bench-queue.sh). MODE=health: GET /health.
-- MODE=join / MODE=poll: POST /events/EVENT_ID/queue/join / GET /events/EVENT_ID/queue/me, each
-- request as the next buyer of TOKENS_FILE.
-- MODE=reserve: POST /reserve of one ticket of EVENT_ID's 'floor' (or of one of its
-- comma-separated events); MODE=best: of the best QTY (default 2) seats of a seated 'floor'; each request
-- as the next buyer of TOKENS_FILE (JWTs separated by commas or whitespace, as
-- `boxofficectl token --count` prints them), so that no buyer comes
-- near the per-buyer rate limit. Prints one line of JSON figures at the end and,
-- when LATENCY_FILE is set, writes there the whole latency histogram (JSON pairs of
-- [10 µs bucket, requests]) so that rounds can be pooled into one distribution.
-- Every request is formatted once, in init: the load generator shares the
-- machine's cores with the server, so both phases cost it one table lookup.
local mode = os.getenv("MODE") or "health"
local threads = {}
local requests, i = {}, 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  if mode == "health" then
    requests[1] = wrk.format("GET", "/health")
    return
  end
  local f = assert(io.open(os.getenv("TOKENS_FILE")))
  if mode == "join" or mode == "poll" then
    -- The waiting room of EVENT_ID: each request as the next buyer of TOKENS_FILE.
    local path = "/events/" .. os.getenv("EVENT_ID") .. (mode == "join" and "/queue/join" or "/queue/me")
    for t in f:read("*a"):gmatch("[^,%s]+") do
      requests[#requests + 1] = wrk.format(mode == "join" and "POST" or "GET", path, { ["Authorization"] = "Bearer " .. t })
    end
    f:close()
    i = (id * 977) % #requests
    return
  end
  -- EVENT_ID may list several events (comma-separated): buyer k reserves in event k mod n.
  local bodies = {}
  for e in os.getenv("EVENT_ID"):gmatch("[^,]+") do
    if mode == "best" then
      bodies[#bodies + 1] = string.format('{"event_id":"%s","category":"floor","qty":%s,"best_available":true}', e, os.getenv("QTY") or "2")
    else
      bodies[#bodies + 1] = string.format('{"event_id":"%s","category":"floor","qty":1}', e)
    end
  end
  for t in f:read("*a"):gmatch("[^,%s]+") do
    requests[#requests + 1] = wrk.format("POST", "/reserve",
      { ["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/json" }, bodies[#requests % #bodies + 1])
  end
  f:close()
  i = (id * 977) % #requests
end

function request()
  i = i % #requests + 1
  return requests[i]
end

function done(summary, latency, requests)
  local path = os.getenv("LATENCY_FILE")
  if path then
    -- latency(i) is the i-th distinct latency recorded (µs, ascending) and its count.
    local buckets, last, count = {}, nil, 0
    for i = 1, #latency do
      local v, n = latency(i)
      local b = math.floor(v / 10)
      if b ~= last then
        if last then buckets[#buckets + 1] = string.format("[%d,%d]", last, count) end
        last, count = b, 0
      end
      count = count + n
    end
    if last then buckets[#buckets + 1] = string.format("[%d,%d]", last, count) end
    local f = assert(io.open(path, "w"))
    f:write("[", table.concat(buckets, ","), "]\n")
    f:close()
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"seconds":%.3f,"non_2xx":%d,"socket_errors":%d,"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
