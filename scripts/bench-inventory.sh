#!/usr/bin/env bash
# Reserve throughput through the Swift client against redis-benchmark running
# the same reserve.lua with the same key shapes, in the same run, on a private
# Redis (AOF on, like production): one reserve per call (a batch of one, the
# script's argument layout). Prints both and the ratio.
#   scripts/bench-inventory.sh [requests] [concurrency]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
REQUESTS="${1:-100000}"; CONCURRENCY="${2:-64}"
PORT="${BOXOFFICE_BENCH_REDIS_PORT:-26379}"
DIR="$ROOT/.run/bench/redis"; mkdir -p "$DIR"

log "building boxoffice-bench (release)"
(cd "$ROOT" && swift build -c release --product boxoffice-bench 2>&1 | grep -E "error|Compiling|Build" | grep -v "^\[") || die "build failed"
BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)/boxoffice-bench"

port_open "$PORT" && die "port $PORT is taken; set BOXOFFICE_BENCH_REDIS_PORT"
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly yes --appendfsync everysec --save "" \
    --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
trap 'redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
wait_for redis 10 redis-cli -p "$PORT" ping || die "bench redis did not start"

SRC="$("$BIN" script-source reserve)"
SHA="$(redis-cli -p "$PORT" -x script load <<<"$SRC" | tr -d '\r')"
# Stock large enough never to sell out; no per-user limit.
redis-cli -p "$PORT" hset "bo:{ev:rb}:stock" "floor|total" 1000000000 "floor|available" 1000000000 "floor|held" 0 "floor|confirmed" 0 >/dev/null
redis-cli -p "$PORT" hset "bo:{ev:rb}:meta" "floor|price" 1 "floor|currency" EUR "floor|max" 0 >/dev/null

log "redis-benchmark: EVALSHA reserve, $REQUESTS requests, $CONCURRENCY connections, unpipelined"
P="bo:{ev:rb}:"
# -r must fit a C int: redis-benchmark reads it with atoi, and a larger value makes every
# __rand_int__ 000000000000, so all but the first call would take the cheap 'id_taken' exit.
RB_OUT="$(redis-benchmark -p "$PORT" -c "$CONCURRENCY" -n "$REQUESTS" -r 1000000000 -q --csv \
    EVALSHA "$SHA" 10 "${P}stock" "${P}meta" "${P}limits" "${P}holds" "${P}outbox" "${P}rl" "${P}q" "${P}q:adm" "${P}r:__rand_int__" "${P}idem:-" \
    rb 600000 10 86400 1 0 604800000 "rb.__rand_int__" floor "u__rand_int__" 1 0 "h__rand_int__" 0 "" "" "" 2>&1 | tail -1)"
RB_RPS="$(echo "$RB_OUT" | awk -F'","' '{gsub(/"/,"",$2); print $2}')"
RB_P50="$(echo "$RB_OUT" | awk -F'","' '{gsub(/"/,"",$5); print $5}')"
RB_P99="$(echo "$RB_OUT" | awk -F'","' '{gsub(/"/,"",$7); print $7}')"
echo "redis-benchmark reserve: $RB_RPS ops/s  p50 ${RB_P50} ms  p99 ${RB_P99} ms"
# The baseline counts only if its calls really held tickets (random ids may collide a few times).
RB_HELD="$(redis-cli -p "$PORT" hget "${P}stock" "floor|held" | tr -d '\r')"
echo "redis-benchmark held $RB_HELD tickets in $REQUESTS calls"
[ "$RB_HELD" -ge $((REQUESTS * 99 / 100)) ] || die "redis-benchmark's calls did not reserve (held $RB_HELD of $REQUESTS): the baseline would be meaningless"
redis-cli -p "$PORT" --scan --pattern "${P}*" | xargs -r -n 500 redis-cli -p "$PORT" unlink >/dev/null

log "swift client: $REQUESTS reserves, concurrency $CONCURRENCY"
OUT="$("$BIN" inventory --redis "redis://127.0.0.1:$PORT" --requests "$REQUESTS" --concurrency "$CONCURRENCY")"
echo "$OUT" | grep -v '^RESULT'
SW_RPS="$(echo "$OUT" | sed -n 's/^RESULT ops_per_sec=\([0-9.]*\).*/\1/p')"
python3 - "$SW_RPS" "$RB_RPS" <<'PY'
import sys
sw, rb = float(sys.argv[1]), float(sys.argv[2])
ratio = sw / rb if rb else 0
print(f"ratio swift/redis-benchmark = {ratio:.2f} (target >= 0.50): {'PASS' if ratio >= 0.5 else 'BELOW TARGET'}")
PY

# The relay, on the same private Redis, to the running stack's broker when there is one.
if [ -f "$ROOT/.run/env" ]; then
    source "$ROOT/.run/env"
    if port_open "${BOXOFFICE_KAFKA_PORT:-9092}"; then
        "$(tansu_bin)" topic create reservations.bench --partitions 6 --broker "tcp://$BOXOFFICE_KAFKA_BROKERS" >/dev/null 2>&1 || true
        log "relay: 20000 outbox entries to reservations.bench"
        "$BIN" relay --redis "redis://127.0.0.1:$PORT" --brokers "$BOXOFFICE_KAFKA_BROKERS" --topic reservations.bench --entries 20000
    fi
fi

# The repair loop's passes over an event of 100,000 reservations, on the same private Redis,
# against the running stack's PostgreSQL (the event's rows are deleted afterwards).
if [ -n "${BOXOFFICE_DATABASE_URL:-}" ]; then
    log "repair loop: passes over an event of 100000 reservations"
    "$BIN" repair --redis "redis://127.0.0.1:$PORT" --database-url "$BOXOFFICE_DATABASE_URL" --reservations 100000
fi
