#!/usr/bin/env bash
# make up: install what is missing, build release, start the stack, migrate,
# start boxoffice-api and boxoffice-worker in the background, create a demo
# event, and print where everything is. Safe to run again: what runs stays up,
# an executable rebuilt since it started is restarted.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="${BOXOFFICE_RUN_DIR:-$ROOT/.run}"; export BOXOFFICE_RUN_DIR="$RUN"
PIDS="$RUN/pids"; LOGS="$RUN/logs"

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

start_exe() {
    local name="$1" exe="$2" port="$3" pidfile="$PIDS/$1.pid"
    if pid_alive "$pidfile"; then
        if [ "$BIN/$exe" -nt "$pidfile" ]; then
            log "$name: binary rebuilt; restarting"
            stop_pid "$name" "$pidfile"
        else
            log "$name: already running (pid $(cat "$pidfile")) on $port"; return
        fi
    fi
    port_open "$port" && die "$name: port $port is taken by another process; set BOXOFFICE_${name^^}_PORT"
    nohup "$BIN/$exe" >>"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! > "$pidfile"
    log "$name: started (pid $!), log $LOGS/$name.log"
}
start_exe api boxoffice-api "$BOXOFFICE_API_PORT"
start_exe worker boxoffice-worker "$BOXOFFICE_WORKER_PORT"

for svc in "api:$BOXOFFICE_API_PORT" "worker:$BOXOFFICE_WORKER_PORT"; do
    name="${svc%%:*}"; port="${svc##*:}"
    if ! wait_for "$name" 60 curl -fsS "http://127.0.0.1:$port/ready"; then
        tail -n 20 "$LOGS/$name.log" >&2
        die "$name is not ready on port $port after 60 s; see $LOGS/$name.log"
    fi
    log "$name: ready on http://127.0.0.1:$port"
done

if "$BIN/boxofficectl" --help 2>/dev/null | grep -q ' seed'; then
    log "demo event"
    "$BIN/boxofficectl" seed --demo | sed 's/^/    /'
fi

TOKEN="$("$BIN/boxofficectl" token --role user --sub demo-buyer)"
cat <<MSG

BoxOffice is up.
  API         http://127.0.0.1:$BOXOFFICE_API_PORT   (health /health, readiness /ready, metrics /metrics)
  worker      http://127.0.0.1:$BOXOFFICE_WORKER_PORT   (/health, /ready, /metrics)
  Redis       127.0.0.1:$BOXOFFICE_REDIS_PORT   PostgreSQL 127.0.0.1:$BOXOFFICE_PG_PORT   Kafka 127.0.0.1:$BOXOFFICE_KAFKA_PORT
  Prometheus  http://127.0.0.1:$BOXOFFICE_PROMETHEUS_PORT
  settings    $RUN/env   (source it: . $RUN/env)
  logs        $LOGS/     (make logs)   stop: make down

Reserve a seat of the demo event as a buyer:
  curl -s -X POST http://127.0.0.1:$BOXOFFICE_API_PORT/reserve \\
    -H 'Authorization: Bearer $TOKEN' \\
    -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' \\
    -d '{"event_id":"demo","category":"floor","qty":2}'
MSG
