#!/usr/bin/env bash
# POST /reserve throughput and p50/p99 at concurrency 64 against the running
# release stack (make up), with GET /health measured in the same run.
# Prints both and the ratio (target: reserve >= 0.35 x health, p99 <= 25 ms), and
# with wrk the CPU time one request of each phase cost every process of the
# machine (scripts/tools/cpu-split.py): the ratio is health's cost over reserve's.
#   scripts/bench-http.sh [seconds] [connections]
# With wrk each phase runs in BOXOFFICE_BENCH_ROUNDS rounds (default 3) of seconds/rounds,
# alternating (health, reserve, health, ...), the pipeline drained before each health round;
# the figures are over all rounds of a phase (p50 and p99 of all its requests, from the rounds'
# pooled latency histograms), each round's are printed too.
# The load generator is wrk (C, two threads): on a small machine it leaves the
# API most of the CPU. BOXOFFICE_BENCH_TOOL=k6 runs the same two phases with k6
# (k6/bench-http.js), whose JavaScript VUs take a core of their own.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECONDS_EACH="${1:-15}"; VUS="${2:-64}"
bench_stack
CTL="$BIN/boxofficectl"
EVENT="$(bench_event bench)"
# Holds of an earlier run expire ten minutes later; if that falls inside this run, the
# sweeper's work (and the events it emits) competes with the measurement. Say so.
NOW_MS="$(rcli time | head -1)000"
DUE=0
for ev in $(rcli smembers bo:events); do
    n="$(rcli zcount "bo:{ev:$ev}:holds" -inf $((NOW_MS + (2 * SECONDS_EACH + 10) * 1000)))"
    DUE=$((DUE + n))
done
[ "$DUE" -gt 0 ] && log "note: $DUE holds of earlier runs fall due during this run; their expiry competes with it (a fresh stack measures cleanly)"
log "minting 3000 buyer tokens (the per-buyer rate limit is 20/s)"
"$CTL" token --sub "bench-$(date +%s)" --count 3000 > "$RUN/bench-tokens.txt"
# Outbox entries the relay has not delivered yet: the stream's length less the delivered
# entries still in it (they stay until the repair loop finds them in PostgreSQL).
outbox_backlog() {
    local len relayed
    len="$(rcli xlen "bo:{ev:$EVENT}:outbox")"
    relayed="$(rcli hget "bo:{ev:$EVENT}:relayed" relayed)"
    echo $(( ${len:-0} - ${relayed:-0} ))
}
TOOL="${BOXOFFICE_BENCH_TOOL:-wrk}"
if [ "$TOOL" = wrk ]; then
    command -v wrk >/dev/null || die "wrk is not installed: run scripts/install.sh"
    WRK_THREADS="${BOXOFFICE_BENCH_WRK_THREADS:-2}"
    # The phases alternate in rounds (health, reserve, health, ...), so that a slow or fast
    # spell of a shared machine falls on both rather than on one of them; the figures are
    # over all rounds of a phase.
    bench_rounds "$SECONDS_EACH"
    wrk_phase() {  # mode path round -> the WRK line of figures; where the CPU went, in $RUN/bench-cpu-<mode>-<round>.json,
                   # and the round's latency histogram in $RUN/bench-latency-<mode>-<round>.json
        MODE="$1" EVENT_ID="$EVENT" TOKENS_FILE="$RUN/bench-tokens.txt" LATENCY_FILE="$RUN/bench-latency-$1-$3.json" \
            python3 "$ROOT/scripts/tools/cpu-split.py" --run-dir "$RUN" --out "$RUN/bench-cpu-$1-$3.json" -- \
            wrk -t "$WRK_THREADS" -c "$VUS" -d "${ROUND_SECONDS}s" -s "$ROOT/scripts/tools/wrk-bench.lua" "$BASE$2" \
            2>>"$RUN/bench-http.log" | sed -n 's/^WRK //p'
    }
    # Before a health round, the reserves of the last round are carried through (the outbox
    # relayed, the worker's lag at zero), so that their tail does not run during it.
    drain() {
        local deadline=$((SECONDS + 60))
        until [ "$(outbox_backlog)" = 0 ] && for port in $(worker_ports); do curl -fsS "http://127.0.0.1:$port/metrics"; done \
                | awk '/^kafka_consumer_lag[{ ]/ { lag += $2 } END { exit !(lag == 0) }'; do
            [ "$SECONDS" -lt "$deadline" ] || { log "note: the pipeline did not drain within 60 s; measuring anyway"; return; }
            sleep 0.2
        done
    }
    log "wrk: $ROUNDS rounds of GET /health for ${ROUND_SECONDS}s, then POST /reserve for ${ROUND_SECONDS}s, $VUS connections, $WRK_THREADS threads (event $EVENT)"
    rm -f "$RUN"/bench-cpu-*.json "$RUN"/bench-latency-*.json  # an earlier run's rounds are not pooled with these
    ROUNDS_JSON="["
    BACKLOGS=0
    for round in $(seq 1 "$ROUNDS"); do
        drain
        HEALTH="$(wrk_phase health /health "$round")"
        sleep 2  # let the health phase's connections close before the next phase
        RESERVE="$(wrk_phase reserve /reserve "$round")"
        BACKLOG="$(outbox_backlog)"
        BACKLOGS=$((BACKLOGS + ${BACKLOG:-0}))
        [ -n "$HEALTH" ] && [ -n "$RESERVE" ] || die "wrk produced no figures in round $round; see $RUN/bench-http.log"
        [ "$round" -gt 1 ] && ROUNDS_JSON+=","
        ROUNDS_JSON+="{\"health\":$HEALTH,\"reserve\":$RESERVE,\"backlog\":${BACKLOG:-0}}"
    done
    ROUNDS_JSON+="]"
    BACKLOG_LINE="outbox backlog at the end of the reserve rounds: $BACKLOGS entries in all ($ROUNDS rounds)"
    OUT="$(python3 - "$ROUNDS_JSON" "$RUN" <<'PY'
import json, sys
rounds, run = json.loads(sys.argv[1]), sys.argv[2]
out = {"rounds": []}
def percentile(histogram, p):  # histogram: {10 µs bucket: requests}; the bucket's upper edge, in ms
    total, seen = sum(histogram.values()), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= p / 100 * total:
            return (bucket + 1) / 100
    return 0.0
for name in ("health", "reserve"):
    rs = [r[name] for r in rounds]
    requests, seconds = sum(r["requests"] for r in rs), sum(r["seconds"] for r in rs)
    out[name] = {"requests": requests, "per_second": requests / seconds, "worst_round_p99_ms": max(r["p99_ms"] for r in rs),
                 "failed": sum(r["non_2xx"] + r["socket_errors"] for r in rs)}
    # p50 and p99 are those of every request of the phase: the rounds' histograms pooled.
    pooled = {}
    for i in range(1, len(rounds) + 1):
        path = f"{run}/bench-latency-{name}-{i}.json"
        try:
            with open(path) as f:
                histogram = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit(f"no latency histogram of round {i} ({path}: {e}); see {run}/bench-http.log")
        for bucket, n in histogram:
            pooled[bucket] = pooled.get(bucket, 0) + n
    out[name]["p50_ms"], out[name]["p99_ms"] = percentile(pooled, 50), percentile(pooled, 99)
    cpu = {"processes": {}, "idle": 0.0, "total": 0.0}
    try:
        for i in range(1, len(rounds) + 1):
            with open(f"{run}/bench-cpu-{name}-{i}.json") as f:
                one = json.load(f)
            for k, v in one["processes"].items():
                cpu["processes"][k] = cpu["processes"].get(k, 0.0) + v
            cpu["idle"] += one["idle"]
            cpu["total"] += one["total"]
        out[name]["cpu"] = cpu
    except (OSError, ValueError, KeyError):
        pass
for r in rounds:
    h, v = r["health"]["requests"] / r["health"]["seconds"], r["reserve"]["requests"] / r["reserve"]["seconds"]
    out["rounds"].append({"health": h, "reserve": v, "p99_ms": r["reserve"]["p99_ms"], "ratio": v / h if h else 0,
                          "backlog": r["backlog"]})
out["ratio"] = out["reserve"]["per_second"] / out["health"]["per_second"] if out["health"]["per_second"] else 0
print(json.dumps(out))
PY
)"
else
    log "k6: GET /health for ${SECONDS_EACH}s, then POST /reserve for ${SECONDS_EACH}s, $VUS VUs each (event $EVENT)"
    OUT="$("$VENV/bin/k6" run -q -e BASE_URL="$BASE" -e USER_TOKENS_FILE="$RUN/bench-tokens.txt" -e EVENT_ID="$EVENT" \
        -e VUS="$VUS" -e SECONDS="$SECONDS_EACH" "$ROOT/k6/bench-http.js" 2>"$RUN/bench-http.log" | tail -1)"
    [ -n "$OUT" ] || die "k6 produced no figures; see $RUN/bench-http.log"
    BACKLOG="$(outbox_backlog)"
    BACKLOG_LINE="outbox backlog when the reserve phase ended: ${BACKLOG:-?} entries"
fi
# Work the reserves left behind (entries the relay has not yet published) is not in the
# figures; a backlog that is a fraction of a second of reserves means the pipeline kept up.
echo "$BACKLOG_LINE"
python3 - "$OUT" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
h, v = r["health"], r["reserve"]
for i, rd in enumerate(r.get("rounds", []), 1):
    print(f"  round {i}: GET /health {rd['health']:7.0f}/s, POST /reserve {rd['reserve']:6.0f}/s (p99 {rd['p99_ms']:.1f} ms), "
          f"ratio {rd['ratio']:.2f}, outbox backlog at its end {rd['backlog']}")
worst = lambda phase: f" (worst round {phase['worst_round_p99_ms']:.2f} ms)" if "worst_round_p99_ms" in phase else ""
print(f"GET /health    {h['per_second']:9.0f} req/s  p50 {h['p50_ms']:.2f} ms  p99 {h['p99_ms']:.2f} ms{worst(h)}")
print(f"POST /reserve  {v['per_second']:9.0f} req/s  p50 {v['p50_ms']:.2f} ms  p99 {v['p99_ms']:.2f} ms{worst(v)}")
failed = h.get("failed", 0) + v.get("failed", 0)
if failed:
    print(f"{failed} requests failed (not 2xx or a socket error): the figures do not count")
ok = r["ratio"] >= 0.35 and v["p99_ms"] <= 25 and not failed
print(f"ratio reserve/health = {r['ratio']:.3f} (target >= 0.35, p99 <= 25 ms): {'PASS' if ok else 'BELOW TARGET'}")
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
