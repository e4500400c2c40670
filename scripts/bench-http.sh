#!/usr/bin/env bash
# POST /reserve throughput and p50/p99 at concurrency 64 against the running
# release stack (make up), with GET /health measured in the same run.
# Prints both and the ratio (target: reserve >= 0.35 x health, p99 <= 25 ms), and
# with wrk the CPU time one request of each phase cost every process of the
# machine (scripts/tools/cpu-split.py): the ratio is health's cost over reserve's.
#   scripts/bench-http.sh [seconds] [connections]
# The load generator is wrk (C, two threads): on a small machine it leaves the
# API most of the CPU. BOXOFFICE_BENCH_TOOL=k6 runs the same two phases with k6
# (k6/bench-http.js), whose JavaScript VUs take a core of their own.
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
# Holds of an earlier run expire ten minutes later; if that falls inside this run, the
# sweeper's work (and the events it emits) competes with the measurement. Say so.
NOW_MS="$(redis-cli -p "$BOXOFFICE_REDIS_PORT" time | head -1)000"
DUE=0
for ev in $(redis-cli -p "$BOXOFFICE_REDIS_PORT" smembers bo:events); do
    n="$(redis-cli -p "$BOXOFFICE_REDIS_PORT" zcount "bo:{ev:$ev}:holds" -inf $((NOW_MS + (2 * SECONDS_EACH + 10) * 1000)))"
    DUE=$((DUE + n))
done
[ "$DUE" -gt 0 ] && log "note: $DUE holds of earlier runs fall due during this run; their expiry competes with it (a fresh stack measures cleanly)"
log "minting 3000 buyer tokens (the per-buyer rate limit is 20/s)"
"$CTL" token --sub "bench-$(date +%s)" --count 3000 > "$RUN/bench-tokens.txt"
TOOL="${BOXOFFICE_BENCH_TOOL:-wrk}"
if [ "$TOOL" = wrk ]; then
    command -v wrk >/dev/null || die "wrk is not installed: run scripts/install.sh"
    WRK_THREADS="${BOXOFFICE_BENCH_WRK_THREADS:-2}"
    wrk_phase() {  # mode path -> the WRK line of figures; where the CPU went, in $RUN/bench-cpu-<mode>.json
        MODE="$1" EVENT_ID="$EVENT" TOKENS_FILE="$RUN/bench-tokens.txt" \
            python3 "$ROOT/scripts/tools/cpu-split.py" --run-dir "$RUN" --out "$RUN/bench-cpu-$1.json" -- \
            wrk -t "$WRK_THREADS" -c "$VUS" -d "${SECONDS_EACH}s" -s "$ROOT/scripts/tools/wrk-bench.lua" "$BASE$2" \
            2>>"$RUN/bench-http.log" | sed -n 's/^WRK //p'
    }
    log "wrk: GET /health for ${SECONDS_EACH}s, then POST /reserve for ${SECONDS_EACH}s, $VUS connections, $WRK_THREADS threads (event $EVENT)"
    HEALTH="$(wrk_phase health /health)"
    sleep 2  # let the health phase's connections close before the next phase
    RESERVE="$(wrk_phase reserve /reserve)"
    BACKLOG="$(redis-cli -p "$BOXOFFICE_REDIS_PORT" xlen "bo:{ev:$EVENT}:outbox" | tr -d '\r')"
    [ -n "$HEALTH" ] && [ -n "$RESERVE" ] || die "wrk produced no figures; see $RUN/bench-http.log"
    OUT="$(python3 - "$HEALTH" "$RESERVE" "$RUN" <<'PY'
import json, sys
h, v = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for name, r in (("health", h), ("reserve", v)):
    out[name] = {"requests": r["requests"], "per_second": r["requests"] / r["seconds"], "p50_ms": r["p50_ms"],
                 "p99_ms": r["p99_ms"], "failed": r["non_2xx"] + r["socket_errors"]}
    try:
        with open(f"{sys.argv[3]}/bench-cpu-{name}.json") as f:
            out[name]["cpu"] = json.load(f)
    except (OSError, ValueError):
        pass
out["ratio"] = out["reserve"]["per_second"] / out["health"]["per_second"] if out["health"]["per_second"] else 0
print(json.dumps(out))
PY
)"
else
    log "k6: GET /health for ${SECONDS_EACH}s, then POST /reserve for ${SECONDS_EACH}s, $VUS VUs each (event $EVENT)"
    OUT="$("$VENV/bin/k6" run -q -e BASE_URL="$BASE" -e USER_TOKENS_FILE="$RUN/bench-tokens.txt" -e EVENT_ID="$EVENT" \
        -e VUS="$VUS" -e SECONDS="$SECONDS_EACH" "$ROOT/k6/bench-http.js" 2>"$RUN/bench-http.log" | tail -1)"
    [ -n "$OUT" ] || die "k6 produced no figures; see $RUN/bench-http.log"
    BACKLOG="$(redis-cli -p "$BOXOFFICE_REDIS_PORT" xlen "bo:{ev:$EVENT}:outbox" | tr -d '\r')"
fi
# Work the reserves left behind (entries the relay has not yet published) is not in the
# figures; a backlog that is a fraction of a second of reserves means the pipeline kept up.
echo "outbox backlog when the reserve phase ended: ${BACKLOG:-?} entries"
python3 - "$OUT" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
h, v = r["health"], r["reserve"]
print(f"GET /health    {h['per_second']:9.0f} req/s  p50 {h['p50_ms']:.2f} ms  p99 {h['p99_ms']:.2f} ms")
print(f"POST /reserve  {v['per_second']:9.0f} req/s  p50 {v['p50_ms']:.2f} ms  p99 {v['p99_ms']:.2f} ms")
failed = h.get("failed", 0) + v.get("failed", 0)
if failed:
    print(f"{failed} requests failed (not 2xx or a socket error): the figures do not count")
ok = r["ratio"] >= 0.35 and v["p99_ms"] <= 25 and not failed
print(f"ratio reserve/health = {r['ratio']:.2f} (target >= 0.35, p99 <= 25 ms): {'PASS' if ok else 'BELOW TARGET'}")
# Where one request's CPU went: the ratio is the inverse of what a reserve costs the whole
# machine against what a health check costs it, and on one machine the API shares its cores.
if "cpu" in h and "cpu" in v:
    names = list(dict.fromkeys(list(h["cpu"]["processes"]) + list(v["cpu"]["processes"])))
    us = lambda phase, seconds: seconds * 1e6 / phase["requests"]
    print("CPU time per request, in microseconds (from /proc; whole machine = its cores / the rate):")
    print(f"  {'':<16} {'GET /health':>12} {'POST /reserve':>14}")
    for n in names:
        a, b = us(h, h["cpu"]["processes"].get(n, 0)), us(v, v["cpu"]["processes"].get(n, 0))
        if a >= 0.05 or b >= 0.05:
            print(f"  {n:<16} {a:12.1f} {b:14.1f}")
    print(f"  {'idle':<16} {us(h, h['cpu']['idle']):12.1f} {us(v, v['cpu']['idle']):14.1f}")
    print(f"  {'whole machine':<16} {us(h, h['cpu']['total']):12.1f} {us(v, v['cpu']['total']):14.1f}")
PY
