#!/usr/bin/env bash
# make up: install what is missing, build release, start the stack, migrate,
# start boxoffice-api and boxoffice-worker in the background, create a demo
# event, and print where everything is. Safe to run again: what runs stays up,
# an executable rebuilt since it started is restarted.
#
# make up-scale (scripts/up.sh --scale): the same in the scaled shape: a Redis
# Cluster (7001-7006), two API replicas (8081, 8082) behind haproxy on 8080,
# two workers (9101, 9102) in one consumer group. One shape runs at a time.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="${BOXOFFICE_RUN_DIR:-$ROOT/.run}"; export BOXOFFICE_RUN_DIR="$RUN"
PIDS="$RUN/pids"; LOGS="$RUN/logs"
SHAPE=single
case "${1:-}" in
    --scale) SHAPE=scaled ;;
    "") ;;
    *) die "usage: $0 [--scale]" ;;
esac
running="$(cat "$RUN/shape" 2>/dev/null || true)"
if [ -n "$running" ] && [ "$running" != "$SHAPE" ] && { pid_alive "$PIDS/redis.pid" || pid_alive "$PIDS/haproxy.pid"; }; then
    die "the $running shape is running; run make down first"
fi
export BOXOFFICE_SHAPE="$SHAPE"

"$ROOT/scripts/install.sh"

log "building release (swift build -c release; a first build takes several minutes)"
(cd "$ROOT" && swift build -c release) || die "release build failed"
BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)"
for exe in boxoffice-api boxoffice-worker boxofficectl; do
    [ -x "$BIN/$exe" ] || die "release build failed: $BIN/$exe missing (run: swift build -c release)"
done

"$ROOT/scripts/stack.sh" start
# shellcheck disable=SC1091
source "$RUN/env"

log "database migrations (boxofficectl migrate)"
"$BIN/boxofficectl" migrate | sed 's/^/    /'

# start_exe NAME EXE PORT [VAR=VALUE...]: starts EXE in the background with the stack's settings
# and the given overrides, unless it already runs from the current binary.
start_exe() {
    local name="$1" exe="$2" port="$3" pidfile="$PIDS/$1.pid"; shift 3
    if pid_alive "$pidfile"; then
        if [ "$BIN/$exe" -nt "$pidfile" ]; then
            log "$name: binary rebuilt; restarting"
            stop_pid "$name" "$pidfile"
        else
            log "$name: already running (pid $(cat "$pidfile")) on $port"; return
        fi
    fi
    port_open "$port" && die "$name: port $port is taken by another process; set BOXOFFICE_${name^^}_PORT"
    env "$@" nohup "$BIN/$exe" >>"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! > "$pidfile"
    log "$name: started (pid $!), log $LOGS/$name.log"
}
# name:port of every process to wait for.
SERVING=()
if [ "$SHAPE" = scaled ]; then
    i=0
    for port in $BOXOFFICE_API_REPLICA_PORTS; do
        i=$((i + 1)); start_exe "api-$i" boxoffice-api "$port" "BOXOFFICE_API_PORT=$port"; SERVING+=("api-$i:$port")
    done
    i=0
    for port in $BOXOFFICE_WORKER_REPLICA_PORTS; do
        i=$((i + 1)); start_exe "worker-$i" boxoffice-worker "$port" "BOXOFFICE_WORKER_PORT=$port"; SERVING+=("worker-$i:$port")
    done
    SERVING+=("haproxy:$BOXOFFICE_API_PORT")
else
    start_exe api boxoffice-api "$BOXOFFICE_API_PORT"
    start_exe worker boxoffice-worker "$BOXOFFICE_WORKER_PORT"
    SERVING+=("api:$BOXOFFICE_API_PORT" "worker:$BOXOFFICE_WORKER_PORT")
fi

for svc in "${SERVING[@]}"; do
    name="${svc%%:*}"; port="${svc##*:}"
    if ! wait_for "$name" 60 curl -fsS "http://127.0.0.1:$port/ready"; then
        [ -f "$LOGS/$name.log" ] && tail -n 20 "$LOGS/$name.log" >&2
        die "$name is not ready on port $port after 60 s; see $LOGS/$name.log"
    fi
    log "$name: ready on http://127.0.0.1:$port"
done

if "$BIN/boxofficectl" --help 2>/dev/null | grep -q ' seed'; then
    log "demo event"
    "$BIN/boxofficectl" seed --demo | sed 's/^/    /'
fi

TOKEN="$("$BIN/boxofficectl" token --role user --sub demo-buyer)"
if [ "$SHAPE" = scaled ]; then
    WHERE="  API         http://127.0.0.1:$BOXOFFICE_API_PORT   (haproxy over the replicas on ${BOXOFFICE_API_REPLICA_PORTS// /, }; /health, /ready, /metrics on each)
  workers     ${BOXOFFICE_WORKER_REPLICA_PORTS// /, }   (one consumer group; /health, /ready, /metrics)
  Redis       Redis Cluster, primaries 127.0.0.1:$BOXOFFICE_REDIS_CLUSTER_PORT-$((BOXOFFICE_REDIS_CLUSTER_PORT + 2)), replicas $((BOXOFFICE_REDIS_CLUSTER_PORT + 3))-$((BOXOFFICE_REDIS_CLUSTER_PORT + 5))
  PostgreSQL  127.0.0.1:$BOXOFFICE_PG_PORT   Kafka 127.0.0.1:$BOXOFFICE_KAFKA_PORT ($BOXOFFICE_KAFKA_PARTITIONS partitions)"
else
    WHERE="  API         http://127.0.0.1:$BOXOFFICE_API_PORT   (health /health, readiness /ready, metrics /metrics)
  worker      http://127.0.0.1:$BOXOFFICE_WORKER_PORT   (/health, /ready, /metrics)
  Redis       127.0.0.1:$BOXOFFICE_REDIS_PORT   PostgreSQL 127.0.0.1:$BOXOFFICE_PG_PORT   Kafka 127.0.0.1:$BOXOFFICE_KAFKA_PORT"
fi
cat <<MSG

BoxOffice is up ($SHAPE shape).
  Web app     http://127.0.0.1:$BOXOFFICE_API_PORT/app/   (buyers: register, reserve, pay; operators: /app/admin)
$WHERE
  Prometheus  http://127.0.0.1:$BOXOFFICE_PROMETHEUS_PORT
  settings    $RUN/env   (source it: . $RUN/env)
  logs        $LOGS/     (make logs)   stop: make down

Reserve a seat of the demo event as a buyer:
  curl -s -X POST http://127.0.0.1:$BOXOFFICE_API_PORT/reserve \\
    -H 'Authorization: Bearer $TOKEN' \\
    -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' \\
    -d '{"event_id":"demo","category":"floor","qty":2}'
MSG
