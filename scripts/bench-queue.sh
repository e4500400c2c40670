#!/usr/bin/env bash
# The waiting room on the running stack (make up or make up-scale):
#   1. join/s and poll/s with wrk beside GET /health in the same run (alternating rounds, as
#      bench-http.sh): goals poll >= 0.6 x health, join >= 0.4 x health;
#   2. the k6 rehearsal k6/queue.js with BUYERS virtual buyers (default 5000): a pre-queue, the
#      opening, admissions at RATE a minute, admitted buyers reserving and confirming.
#   scripts/bench-queue.sh [seconds] [connections]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECONDS_EACH="${1:-9}"; CONNECTIONS="${2:-64}"
bench_stack
bench_rounds "$SECONDS_EACH"
BUYERS="${BOXOFFICE_BENCH_QUEUE_BUYERS:-5000}"
ADMIN="$("$BIN/boxofficectl" token --role admin --sub bench-admin)"
TOKENS="$RUN/bench-queue-tokens.txt"
"$BIN/boxofficectl" token --sub "queue-$(date +%s)" --count "$BUYERS" > "$TOKENS"

# A room that opens in an hour: joins and polls do their whole work (place, pace, view), and
# nobody is admitted while wrk runs.
EVENT="$(bench_event queue)"
curl -fsS -X PUT "$BASE/events/$EVENT/queue" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d "{\"opens_at\":\"$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\",\"admit_per_minute\":600,\"pre_queue_minutes\":120}" >/dev/null

phase() {  # mode round -> the WRK figures line
    MODE="$1" EVENT_ID="$EVENT" TOKENS_FILE="$TOKENS" \
        wrk -t 2 -c "$CONNECTIONS" -d "${ROUND_SECONDS}s" -s "$ROOT/scripts/tools/wrk-bench.lua" "$BASE/" 2>>"$RUN/bench-queue.log" | sed -n 's/^WRK //p'
}
log "wrk: $ROUNDS rounds of ${ROUND_SECONDS}s each of GET /health, POST .../queue/join, GET .../queue/me; $CONNECTIONS connections, $BUYERS buyers"
alternate_rounds "$RUN/bench-queue.log" health join poll
python3 - "[$FIGURES]" <<'PY'
import json, sys
rounds = json.loads(sys.argv[1])
rate = {}
for mode in ("health", "join", "poll"):
    ws = [r["wrk"] for r in rounds if r["mode"] == mode]
    rate[mode] = sum(w["requests"] for w in ws) / sum(w["seconds"] for w in ws)
    failed = sum(w["non_2xx"] + w["socket_errors"] for w in ws)
    label = {"health": "GET /health", "join": "POST /events/{id}/queue/join", "poll": "GET /events/{id}/queue/me"}[mode]
    print(f"{label:30} {rate[mode]:8.0f} req/s  p99 {max(w['p99_ms'] for w in ws):6.2f} ms (worst round)" + (f"  {failed} failed" if failed else ""))
for mode, goal in (("poll", 0.6), ("join", 0.4)):
    r = rate[mode] / rate["health"]
    print(f"ratio {mode}/health = {r:.3f} (goal >= {goal}): {'PASS' if r >= goal else 'BELOW GOAL'}")
PY

log "k6 queue.js: $BUYERS buyers, a 10 s pre-queue, 600 admissions a minute for 40 s"
"$VENV/bin/k6" run -q -e BASE_URL="$BASE" -e ADMIN_TOKEN="$ADMIN" -e USER_TOKENS_FILE="$TOKENS" -e BUYERS="$BUYERS" -e VUS=200 \
    -e STOCK=100000 -e MAX_PER_USER=0 -e OPEN_IN=10 -e RATE=600 -e DURATION=40s "$ROOT/k6/queue.js" 2>&1 \
    | grep -E "queue:|threshold|✗" | sed 's/.*msg="\(queue:[^"]*\)".*/\1/'
