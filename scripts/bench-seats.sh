#!/usr/bin/env bash
# Seats on the running stack (make up or make up-scale):
#   1. best-available reserves (2 seats each) with wrk against 20,000-seat categories beside
#      GET /health in the same run (alternating rounds, as bench-http.sh); each round gets fresh
#      seated events so that it measures seats being chosen, not sold-out answers:
#      goal best/health >= 0.25 and p99 <= 25 ms;
#   2. the size on the wire of GET /events/{id}/seats for a 100,000-seat map, plain and gzipped
#      (goal <= 50 KB), with a hundred best-available holds spread over it.
#   scripts/bench-seats.sh [seconds] [connections]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECONDS_EACH="${1:-9}"; CONNECTIONS="${2:-64}"
bench_stack
bench_rounds "$SECONDS_EACH"
ADMIN="$("$BIN/boxofficectl" token --role admin --sub bench-admin)"
TOKENS="$RUN/bench-seats-tokens.txt"
"$BIN/boxofficectl" token --sub "seats-$(date +%s)" --count 20000 > "$TOKENS"

# seated_event ROWS WIDTH: an event whose 'floor' has a map of ROWS rows of WIDTH seats; prints its id.
seated_event() {
    local event
    event="$(bench_event seats)"
    python3 -c 'import json,sys; r,w=int(sys.argv[1]),int(sys.argv[2]); print(json.dumps({"sections":[{"name":"Main","rows":[{"name":str(i+1),"seats":[str(j+1) for j in range(w)]} for i in range(r)]}]}))' "$1" "$2" \
        | curl -fsS -X PUT "$BASE/events/$event/categories/floor/seats" -H "Authorization: Bearer $ADMIN" \
            -H 'Content-Type: application/json' --data-binary @- >/dev/null || die "seat map not set"
    echo "$event"
}

phase() {  # mode round -> the WRK figures line; each round's best-available phase on fresh maps
    local events=""
    if [ "$1" = best ]; then events="$(seated_event 100 200),$(seated_event 100 200),$(seated_event 100 200)"; fi
    MODE="$1" EVENT_ID="$events" TOKENS_FILE="$TOKENS" \
        wrk -t 2 -c "$CONNECTIONS" -d "${ROUND_SECONDS}s" -s "$ROOT/scripts/tools/wrk-bench.lua" "$BASE/" 2>>"$RUN/bench-seats.log" | sed -n 's/^WRK //p'
}
log "wrk: $ROUNDS rounds of ${ROUND_SECONDS}s each of GET /health and best-available POST /reserve (qty 2) on 20,000-seat maps; $CONNECTIONS connections"
alternate_rounds "$RUN/bench-seats.log" health best
python3 - "[$FIGURES]" <<'PY'
import json, sys
rounds = json.loads(sys.argv[1])
rate = {}
for mode in ("health", "best"):
    ws = [r["wrk"] for r in rounds if r["mode"] == mode]
    rate[mode] = sum(w["requests"] for w in ws) / sum(w["seconds"] for w in ws)
    failed = sum(w["non_2xx"] + w["socket_errors"] for w in ws)
    p99 = max(w["p99_ms"] for w in ws)
    label = {"health": "GET /health", "best": "POST /reserve best_available"}[mode]
    print(f"{label:30} {rate[mode]:8.0f} req/s  p99 {p99:6.2f} ms (worst round)" + (f"  {failed} not 2xx" if failed else ""))
    if mode == "best":
        print(f"best-available p99 = {p99:.2f} ms (goal <= 25): {'PASS' if p99 <= 25 else 'ABOVE GOAL'}")
r = rate["best"] / rate["health"]
print(f"ratio best/health = {r:.3f} (goal >= 0.25): {'PASS' if r >= 0.25 else 'BELOW GOAL'}")
PY

log "GET /events/{id}/seats of a 100,000-seat map (500 rows of 200) with 100 holds of 4 spread by best available"
BIG="$(seated_event 500 200)"
mapfile -t BUYERS < <(tr ',' '\n' < "$TOKENS" | sed -n '1,100p')
for buyer in "${BUYERS[@]}"; do
    curl -fsS -o /dev/null -X POST "$BASE/reserve" -H "Authorization: Bearer $buyer" -H 'Content-Type: application/json' \
        -d "{\"event_id\":\"$BIG\",\"category\":\"floor\",\"qty\":4,\"best_available\":true}" || die "a best-available reserve failed"
done
sleep 0.3
plain="$(curl -fsS -o /dev/null -w '%{size_download}' "$BASE/events/$BIG/seats")"
gzipped="$(curl -fsS -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "$BASE/events/$BIG/seats")"
echo "seats document, 100,000 seats: $plain bytes plain, $gzipped bytes gzipped (goal <= 50000): $([ "$plain" -le 50000 ] && [ "$gzipped" -le 50000 ] && echo PASS || echo ABOVE GOAL)"
