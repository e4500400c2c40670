#!/usr/bin/env bash
# make bench: benchmarks and an on-sale rehearsal on the running stack, either shape
# (make up or make up-scale); the report says which it ran on.
#   1. inventory: reserve.lua through the Swift client vs redis-benchmark
#   2. worker: events persisted per second at batch sizes 1, 100, 1000
#   3. HTTP: POST /reserve vs GET /health at 64 connections (wrk)
#   4. the expiry wave: 100,000 holds due together, the sweep rate and the reserve p99 of
#      another event during it beside its quiet p99 (bench-wave.sh)
#   5. scale: one API on a standalone Redis against one on a Redis Cluster and two behind
#      haproxy, 30 events, and how they spread over the primaries (bench-scale.sh)
#   6. the waiting room: join/s and poll/s beside GET /health, and a k6 on-sale of 5,000 buyers
#      behind it (bench-queue.sh)
#   7. seats: best-available reserves on 20,000-seat maps beside GET /health, and the size of the
#      seats document of a 100,000-seat map (bench-seats.sh)
#   8. k6 ticket war (reserve.js) and buyer flow (flow.js) on fresh events,
#      then waits for the worker to drain and checks PostgreSQL against what k6 saw:
#      oversold=N lost=N duplicated=N, plus the reserve-to-row lag.
# Prints one report, also saved as JSON under .run/bench/.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="${BOXOFFICE_RUN_DIR:-$ROOT/.run}"
[ -f "$RUN/env" ] || die "no stack: run make up first"
source "$RUN/env"
OUT="$RUN/bench"; mkdir -p "$OUT"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
BINDIR="$(cd "$ROOT" && swift build -c release --show-bin-path)"
log "building release benchmarks"
(cd "$ROOT" && swift build -c release --product boxoffice-bench 2>&1 | grep -E "error|Build") || die "build failed"
BASE="http://127.0.0.1:$BOXOFFICE_API_PORT"
curl -fsS "$BASE/ready" >/dev/null || die "the API at $BASE is not ready (make up)"
SHAPE="${BOXOFFICE_SHAPE:-single}"
if [ "$SHAPE" = scaled ]; then
    log "stack shape: scaled (Redis Cluster, API replicas ${BOXOFFICE_API_REPLICA_PORTS// /, } behind haproxy on $BOXOFFICE_API_PORT, workers ${BOXOFFICE_WORKER_REPLICA_PORTS// /, })"
else
    log "stack shape: single (one Redis, one API, one worker)"
fi

log "1/8 inventory (and the relay and the repair loop)"
"$ROOT/scripts/bench-inventory.sh" 100000 64 2>&1 | tee "$OUT/inventory.txt" | grep -E "ops/s|ratio|relay:|repair:"
log "2/8 worker writer"
"$BINDIR/boxoffice-bench" worker --database-url "$BOXOFFICE_DATABASE_URL" --events 20000 | tee "$OUT/worker.txt" | grep -v RESULT
log "3/8 HTTP"
"$ROOT/scripts/bench-http.sh" 15 64 2>&1 | tee "$OUT/http.txt" | grep -E "req/s|ratio|backlog|CPU time|^  "

log "4/8 expiry wave"
"$ROOT/scripts/bench-wave.sh" 100000 8 2>&1 | tee "$OUT/wave.txt" | grep -E "sweep:|reserve on another|memory per hold"
log "5/8 scale: standalone Redis against Redis Cluster, one API and two behind haproxy"
"$ROOT/scripts/bench-scale.sh" 9 64 2>&1 | tee "$OUT/scale.txt" | grep -E "req/s|ratio|primary :|CPU time|^  "
log "6/8 waiting room: join and poll against GET /health, and a k6 on-sale behind the queue"
"$ROOT/scripts/bench-queue.sh" 9 64 2>&1 | tee "$OUT/queue.txt" | grep -E "req/s|ratio|queue:|threshold"
log "7/8 seats: best available against GET /health, and the seats document's size"
"$ROOT/scripts/bench-seats.sh" 9 64 2>&1 | tee "$OUT/seats.txt" | grep -E "req/s|ratio|p99 =|seats document"
log "8/8 rehearsal: k6 ticket war and buyer flow"
CTL="$BINDIR/boxofficectl"
ADMIN="$("$CTL" token --role admin --sub bench-admin)"
"$CTL" token --sub "rehearsal-$STAMP" --count 2000 > "$OUT/tokens.txt"
"$VENV/bin/k6" run -q -e BASE_URL="$BASE" -e ADMIN_TOKEN="$ADMIN" -e USER_TOKENS_FILE="$OUT/tokens.txt" -e STOCK=500 -e MAX_PER_USER=4 \
    -e VUS=64 -e DURATION=30s -e SUMMARY_JSON="$OUT/reserve.json" "$ROOT/k6/reserve.js" 2>&1 | grep -E "ticket war|threshold|http_reqs" || true
"$VENV/bin/k6" run -q -e BASE_URL="$BASE" -e ADMIN_TOKEN="$ADMIN" -e USER_TOKENS_FILE="$OUT/tokens.txt" -e STOCK=100000 -e MAX_PER_USER=0 \
    -e VUS=16 -e DURATION=20s -e SUMMARY_JSON="$OUT/flow.json" "$ROOT/k6/flow.js" 2>"$OUT/flow.log" | grep -E "^flow|threshold" || true
grep -o 'CONFIRMED [^ "]*' "$OUT/flow.log" | awk '{print $2}' | sort -u > "$OUT/confirmed.txt" || true

log "waiting for the worker to drain"
python3 - "$OUT" "$STAMP" <<'PY'
import json, os, subprocess, sys, time
out, stamp = sys.argv[1], sys.argv[2]
db = os.environ["BOXOFFICE_DATABASE_URL"]
def sql(q):
    # Through stdin: the id lists are too long for a command line.
    return subprocess.run(["psql", db, "-qtAX", "-v", "ON_ERROR_STOP=1"], input=q + ";\n", capture_output=True, text=True, check=True).stdout.strip()
war = json.load(open(f"{out}/reserve.json"))
flow = json.load(open(f"{out}/flow.json"))
confirmed = [l.strip() for l in open(f"{out}/confirmed.txt") if l.strip()]
ids = ",".join("'" + c.replace("'", "") + "'" for c in confirmed) or "''"
deadline = time.time() + 120
while time.time() < deadline:
    n = int(sql(f"SELECT count(*) FROM bookings WHERE reservation_id IN ({ids}) AND status = 'confirmed'") or 0)
    if n >= len(confirmed):
        break
    time.sleep(0.5)
in_pg = int(sql(f"SELECT count(*) FROM bookings WHERE reservation_id IN ({ids}) AND status = 'confirmed'") or 0)
lost = len(confirmed) - in_pg
duplicated = int(sql(f"SELECT count(*) - count(DISTINCT reservation_id) FROM payments WHERE reservation_id IN ({ids}) AND status = 'succeeded'") or 0)
sold = int(sql(f"SELECT coalesce(sum(qty), 0) FROM bookings WHERE event_id = '{war['event_id']}' AND status IN ('held', 'confirmed')") or 0)
oversold = max(war.get("oversold", 0), sold - war.get("stock", 0))
lag = sql(f"""SELECT coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - confirmed_at)) * 1000), 0) || ' ' ||
              coalesce(round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - confirmed_at)) * 1000), 0)
              FROM bookings WHERE reservation_id IN ({ids}) AND confirmed_at IS NOT NULL""").split()
def results(path, key):
    return {l.split()[1].split("=")[1]: float(l.split()[2].split("=")[1]) for l in open(path) if l.startswith("RESULT")} if key else None
report = {
    "at": stamp,
    "shape": os.environ.get("BOXOFFICE_SHAPE", "single"),
    "ticket_war": {"event": war["event_id"], "stock": war["stock"], "tickets_held": war["tickets_held"], "requests": war["requests"],
                   "reserve_p95_ms": war["reserve_p95_ms"]},
    "flow": {"event": flow["event_id"], "confirmed": len(confirmed), "confirm_p95_ms": flow["confirm_p95_ms"]},
    "confirm_to_row_lag_ms": {"p50": float(lag[0]), "p99": float(lag[1])} if len(lag) == 2 else None,
    "oversold": oversold, "lost": lost, "duplicated": duplicated,
    "inventory": [l for l in open(f"{out}/inventory.txt").read().splitlines() if "ops/s" in l or "ratio" in l or l.startswith("relay:") or l.startswith("repair:")],
    "wave": [l for l in open(f"{out}/wave.txt").read().splitlines() if l.startswith(("sweep:", "reserve on another", "redis memory per hold"))],
    "worker": [l for l in open(f"{out}/worker.txt").read().splitlines() if not l.startswith("RESULT")],
    "http": [l for l in open(f"{out}/http.txt").read().splitlines() if "req/s" in l or "ratio" in l or "backlog" in l],
    "scale": [l for l in open(f"{out}/scale.txt").read().splitlines() if "req/s" in l or "ratio" in l or l.startswith("primary :")],
    "queue": [l for l in open(f"{out}/queue.txt").read().splitlines() if "req/s" in l or "ratio" in l or l.startswith("queue:")],
}
path = f"{out}/report-{stamp}.json"
json.dump(report, open(path, "w"), indent=2)
print(f"\n=== BoxOffice bench report ({report['shape']} shape) ===")
for line in report["inventory"] + report["worker"] + report["http"] + report["wave"] + report["scale"] + report["queue"]:
    print(line)
print(f"ticket war: {war['tickets_held']} tickets held of stock {war['stock']} from {war['requests']} requests; reserve p95 {war['reserve_p95_ms']:.1f} ms")
print(f"flow: {len(confirmed)} confirmed; confirm p95 {flow['confirm_p95_ms']:.1f} ms")
if report["confirm_to_row_lag_ms"]:
    print(f"confirm → PostgreSQL row lag: p50 {report['confirm_to_row_lag_ms']['p50']:.0f} ms, p99 {report['confirm_to_row_lag_ms']['p99']:.0f} ms")
print(f"oversold={oversold} lost={lost} duplicated={duplicated}")
print(f"saved {path}")
sys.exit(1 if (oversold or lost or duplicated) else 0)
PY
