#!/usr/bin/env bash
# POST /reserve throughput and p50/p99 at concurrency 64 against the running
# release stack (make up), with GET /health measured in the same k6 run.
# Prints both and the ratio (target: reserve >= 0.35 x health, p99 <= 25 ms).
#   scripts/bench-http.sh [seconds] [vus]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECONDS_EACH="${1:-15}"; VUS="${2:-64}"
RUN="${BOXOFFICE_RUN_DIR:-$ROOT/.run}"
[ -f "$RUN/env" ] || die "no stack: run make up first"
source "$RUN/env"
CTL="$(cd "$ROOT" && swift build -c release --show-bin-path)/boxofficectl"
BASE="http://127.0.0.1:$BOXOFFICE_API_PORT"
curl -fsS "$BASE/ready" >/dev/null || die "the API at $BASE is not ready"

ADMIN="$("$CTL" token --role admin --sub bench-admin)"
EVENT="$(curl -fsS -X POST "$BASE/events" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d '{"name":"bench","venue":"bench","starts_at":"2030-01-01T20:00:00Z"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
curl -fsS -X POST "$BASE/events/$EVENT/ticket-category" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d '{"name":"floor","total_stock":10000000,"price":100}' >/dev/null
log "minting 3000 buyer tokens (the per-buyer rate limit is 20/s)"
"$CTL" token --sub "bench-$(date +%s)" --count 3000 > "$RUN/bench-tokens.txt"
log "k6: GET /health for ${SECONDS_EACH}s, then POST /reserve for ${SECONDS_EACH}s, $VUS VUs each (event $EVENT)"
OUT="$("$VENV/bin/k6" run -q -e BASE_URL="$BASE" -e USER_TOKENS_FILE="$RUN/bench-tokens.txt" -e EVENT_ID="$EVENT" -e VUS="$VUS" -e SECONDS="$SECONDS_EACH" \
    "$ROOT/k6/bench-http.js" 2>"$RUN/bench-http.log" | tail -1)"
[ -n "$OUT" ] || die "k6 produced no figures; see $RUN/bench-http.log"
python3 - "$OUT" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
h, v = r["health"], r["reserve"]
print(f"GET /health    {h['per_second']:9.0f} req/s  p50 {h['p50_ms']:.2f} ms  p99 {h['p99_ms']:.2f} ms")
print(f"POST /reserve  {v['per_second']:9.0f} req/s  p50 {v['p50_ms']:.2f} ms  p99 {v['p99_ms']:.2f} ms")
ok = r["ratio"] >= 0.35 and v["p99_ms"] <= 25
print(f"ratio reserve/health = {r['ratio']:.2f} (target >= 0.35, p99 <= 25 ms): {'PASS' if ok else 'BELOW TARGET'}")
PY
