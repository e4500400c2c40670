#!/usr/bin/env bash
# What Redis Cluster routing costs the reserve path, and how events spread over the primaries,
# measured in one run on the running stack's machine (make up or make up-scale; its PostgreSQL
# and Kafka serve every API this starts):
#   single   one boxoffice-api on a fresh standalone Redis
#   cluster  one boxoffice-api on a fresh Redis Cluster (3 primaries, 3 replicas;
#            BOXOFFICE_BENCH_SCALE_REPLICAS=0: the primaries alone)
#   haproxy  two boxoffice-api replicas on that cluster behind haproxy
# Each phase POSTs /reserve with wrk for `seconds` split in rounds that alternate between the
# phases, over 30 events (buyer k reserves in event k mod 30). Prints reserve/s and p99 of
# each, the ratio cluster/single (target >= 0.9), and per primary: the events, keys and
# EVALSHA calls it took.
#   scripts/bench-scale.sh [seconds] [connections]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECONDS_EACH="${1:-15}"; CONNECTIONS="${2:-64}"
bench_stack
bench_rounds "$SECONDS_EACH"
command -v wrk >/dev/null || die "wrk is not installed: run scripts/install.sh"
command -v haproxy >/dev/null || die "haproxy is not installed: run scripts/install.sh"

BASE_PORT="${BOXOFFICE_BENCH_SCALE_PORT:-21390}"   # Redis, the cluster's six nodes, then the APIs and haproxy
REDIS_PORT=$BASE_PORT; CLUSTER_PORT=$((BASE_PORT + 1))
API_SINGLE=$((BASE_PORT + 10)); API_C1=$((BASE_PORT + 11)); API_C2=$((BASE_PORT + 12)); LB=$((BASE_PORT + 13))
DIR="$RUN/bench-scale"; rm -rf "$DIR"; mkdir -p "$DIR"
for p in $REDIS_PORT $(seq "$CLUSTER_PORT" $((CLUSTER_PORT + 5))) $API_SINGLE $API_C1 $API_C2 $LB; do
    port_open "$p" && die "port $p is taken; set BOXOFFICE_BENCH_SCALE_PORT"
done
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$DIR/haproxy.pid" ] && kill "$(cat "$DIR/haproxy.pid")" 2>/dev/null
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    "$ROOT/scripts/redis-cluster.sh" stop "$DIR/cluster" >/dev/null 2>&1 || true
    rm -rf "$DIR/cluster" "$DIR/redis"
}
trap cleanup EXIT

log "a standalone Redis on $REDIS_PORT and a Redis Cluster on $CLUSTER_PORT-$((CLUSTER_PORT + 5))"
mkdir -p "$DIR/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR/redis" --appendonly yes --save "" \
    --auto-aof-rewrite-min-size 1gb --daemonize yes --logfile "$DIR/redis.log" --maxclients 10000
wait_for redis 10 redis-cli -p "$REDIS_PORT" ping || die "bench redis did not start"
BOXOFFICE_REDIS_CLUSTER_REPLICAS="${BOXOFFICE_BENCH_SCALE_REPLICAS:-1}" \
    "$ROOT/scripts/redis-cluster.sh" start "$DIR/cluster" "$CLUSTER_PORT" 2>&1 | sed 's/^/    /'
# Every process of the phases has a pid file, so that cpu-split.py can say where the CPU went.
mkdir -p "$DIR/pids"
redis-cli -p "$REDIS_PORT" info server | tr -d '\r' | sed -n 's/^process_id://p' > "$DIR/pids/redis-single.pid"
while read -r port role; do
    cp "$DIR/cluster/$port/redis.pid" "$DIR/pids/redis-$role-$port.pid"
done < <(redis-cli -p "$CLUSTER_PORT" cluster nodes | awk '{ split($2, a, "[:@]"); print a[2], ($3 ~ /master/ ? "primary" : "replica") }')
CLUSTER_URL="redis://127.0.0.1:$CLUSTER_PORT,127.0.0.1:$((CLUSTER_PORT + 1)),127.0.0.1:$((CLUSTER_PORT + 2))"

# start_api NAME PORT REDIS_URL: a release boxoffice-api with the stack's settings on its own Redis.
start_api() {
    BOXOFFICE_API_PORT="$2" BOXOFFICE_REDIS_URL="$3" BOXOFFICE_LOG_LEVEL=warning \
        BOXOFFICE_RATE_RESERVE_PER_SECOND=1000000 BOXOFFICE_RATE_RESERVE_BURST=1000000 \
        "$BIN/boxoffice-api" >"$DIR/$1.log" 2>&1 &
    PIDS+=($!)
    echo $! > "$DIR/pids/api-$1.pid"
}
start_api single "$API_SINGLE" "redis://127.0.0.1:$REDIS_PORT"
start_api cluster-1 "$API_C1" "$CLUSTER_URL"
start_api cluster-2 "$API_C2" "$CLUSTER_URL"
cat > "$DIR/haproxy.cfg" <<CFG
global
    maxconn 8000
defaults
    mode http
    option http-keep-alive
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend bench
    bind 127.0.0.1:$LB
    default_backend api
backend api
    balance roundrobin
    server api-1 127.0.0.1:$API_C1
    server api-2 127.0.0.1:$API_C2
CFG
haproxy -D -f "$DIR/haproxy.cfg" -p "$DIR/haproxy.pid" 2>>"$DIR/haproxy.log" || die "haproxy did not start; see $DIR/haproxy.log"
cp "$DIR/haproxy.pid" "$DIR/pids/haproxy.pid"
for port in $API_SINGLE $API_C1 $API_C2; do
    wait_for api 60 curl -fsS "http://127.0.0.1:$port/ready" || die "the API on $port is not ready; see $DIR/*.log"
done

# 30 events on each Redis, created through an API on it.
events_on() {
    local base="$1" admin ids="" i event
    admin="$("$BIN/boxofficectl" token --role admin --sub bench-admin)"
    for i in $(seq 1 30); do
        event="$(curl -fsS -X POST "$base/events" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
            -d "{\"name\":\"scale $i\",\"venue\":\"bench\",\"starts_at\":\"2030-01-01T20:00:00Z\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
        curl -fsS -X POST "$base/events/$event/ticket-category" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
            -d '{"name":"floor","total_stock":10000000,"price":100}' >/dev/null
        ids+="${ids:+,}$event"
    done
    echo "$ids"
}
SINGLE_EVENTS="$(events_on "http://127.0.0.1:$API_SINGLE")"
CLUSTER_EVENTS="$(events_on "http://127.0.0.1:$API_C1")"
"$BIN/boxofficectl" token --sub "scale-$(date +%s)" --count 3000 > "$DIR/tokens.txt"
for port in $(seq "$CLUSTER_PORT" $((CLUSTER_PORT + 2))); do redis-cli -p "$port" config resetstat >/dev/null; done

phase() {  # name port events round -> the WRK figures line; the CPU split in $DIR/cpu-<name>-<round>.json
    MODE=reserve EVENT_ID="$3" TOKENS_FILE="$DIR/tokens.txt" \
        python3 "$ROOT/scripts/tools/cpu-split.py" --run-dir "$DIR" --out "$DIR/cpu-$1-$4.json" -- wrk -t 2 -c "$CONNECTIONS" -d "${ROUND_SECONDS}s" -s "$ROOT/scripts/tools/wrk-bench.lua" "http://127.0.0.1:$2/reserve" \
        2>>"$DIR/wrk.log" | sed -n 's/^WRK //p'
}
log "wrk: $ROUNDS rounds of ${ROUND_SECONDS}s per phase (single, cluster, haproxy), $CONNECTIONS connections, 30 events"
FIGURES=""
for round in $(seq 1 "$ROUNDS"); do
    for spec in "single:$API_SINGLE:$SINGLE_EVENTS" "cluster:$API_C1:$CLUSTER_EVENTS" "haproxy:$LB:$CLUSTER_EVENTS"; do
        IFS=: read -r name port events <<<"$spec"
        out="$(phase "$name" "$port" "$events" "$round")"
        [ -n "$out" ] || die "wrk produced no figures ($name, round $round); see $DIR/wrk.log"
        FIGURES+="${FIGURES:+,}{\"phase\":\"$name\",\"round\":$round,\"wrk\":$out}"
        sleep 1
    done
done

# Per primary: the events whose slot it serves, its keys, its EVALSHA calls during the phases.
NODES=""
for port in $(redis-cli -p "$CLUSTER_PORT" cluster nodes | awk '$3 ~ /master/ { split($2, a, "[:@]"); print a[2] }' | sort -n); do
    keys="$(redis-cli -p "$port" dbsize | tr -d '\r')"
    calls="$(redis-cli -p "$port" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')"
    owned=0
    for e in ${CLUSTER_EVENTS//,/ }; do
        slot="$(redis-cli -p "$port" cluster keyslot "{ev:$e}" | tr -d '\r')"
        [ "$(redis-cli -p "$port" cluster countkeysinslot "$slot" | tr -d '\r')" -gt 0 ] && owned=$((owned + 1))
    done
    NODES+="${NODES:+,}{\"port\":$port,\"events\":$owned,\"keys\":${keys:-0},\"evalsha\":${calls:-0}}"
done

python3 - "[$FIGURES]" "[$NODES]" "$DIR" <<'PY'
import json, sys
rounds, nodes, run = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
by = {}
for r in rounds:
    w = r["wrk"]
    by.setdefault(r["phase"], []).append(w)
summary = {}
for name in ("single", "cluster", "haproxy"):
    ws = by[name]
    rate = sum(w["requests"] for w in ws) / sum(w["seconds"] for w in ws)
    summary[name] = rate
    failed = sum(w["non_2xx"] + w["socket_errors"] for w in ws)
    print(f"{name:8} POST /reserve {rate:8.0f} req/s  p99 {max(w['p99_ms'] for w in ws):6.2f} ms (worst round)"
          + (f"  {failed} failed" if failed else ""))
ratio = summary["cluster"] / summary["single"]
print(f"ratio cluster/single = {ratio:.3f} (one API each; target >= 0.90): {'PASS' if ratio >= 0.9 else 'BELOW TARGET'}")
print(f"ratio haproxy/single = {summary['haproxy'] / summary['single']:.3f} (two API replicas on the same cores)")
for n in nodes:
    print(f"primary :{n['port']}  events {n['events']:2d}  keys {n['keys']:7d}  EVALSHA {n['evalsha']:8d}")
# Where one reserve's CPU went in each phase: process groups by pid-file prefix.
groups = {"api": "API", "haproxy": "haproxy", "redis-single": "Redis", "redis-primary": "Redis primaries",
          "redis-replica": "Redis replicas", "load generator": "wrk"}
print("CPU time per reserve, in microseconds:")
print(f"  {'':<16}" + "".join(f"{p:>10}" for p in ("single", "cluster", "haproxy")))
cost = {}
for phase in ("single", "cluster", "haproxy"):
    requests = sum(r["wrk"]["requests"] for r in rounds if r["phase"] == phase)
    total = {}
    for r in (r for r in rounds if r["phase"] == phase):
        with open(f"{run}/cpu-{phase}-{r['round']}.json") as f:
            one = json.load(f)
        for name, seconds in one["processes"].items():
            group = next((g for prefix, g in groups.items() if name.startswith(prefix)), "other")
            total[group] = total.get(group, 0.0) + seconds
        total["whole machine"] = total.get("whole machine", 0.0) + one["total"] - one["idle"]
    cost[phase] = {g: s * 1e6 / requests for g, s in total.items()}
for g in list(groups.values()) + ["whole machine"]:
    if any(cost[p].get(g, 0) >= 0.05 for p in cost):
        print(f"  {g:<16}" + "".join(f"{cost[p].get(g, 0):10.1f}" for p in ("single", "cluster", "haproxy")))
PY
