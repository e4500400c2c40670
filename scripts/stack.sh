#!/usr/bin/env bash
# Starts, stops and reports the servers of one BoxOffice stack: Redis (AOF on),
# the project's own PostgreSQL cluster, the Tansu broker and Prometheus. Each
# runs on its own port with its data and logs under $BOXOFFICE_RUN_DIR.
#
#   scripts/stack.sh start   start what is not running (idempotent), write $RUN/env
#   scripts/stack.sh stop    stop what this stack started, by pid (either shape's)
#   scripts/stack.sh status  one line per server
#
# BOXOFFICE_SHAPE=scaled (make up-scale) starts the scaled shape instead: a Redis
# Cluster (3 primaries, 3 replicas from BOXOFFICE_REDIS_CLUSTER_PORT, 7001) in
# place of the one Redis, haproxy on the API port in front of the API replicas
# (BOXOFFICE_API_REPLICA_PORTS, "8081 8082"), and Prometheus scraping every
# replica (workers on BOXOFFICE_WORKER_REPLICA_PORTS, "9101 9102").
#
# Redis: BOXOFFICE_REDIS_APPENDFSYNC (everysec, or always), and
# BOXOFFICE_REDIS_AOF_REWRITE_MIN_SIZE (1gb): below it Redis does not fork to
# rewrite the AOF, which under a rush it would otherwise do every few seconds.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RUN="${BOXOFFICE_RUN_DIR:-$ROOT/.run}"
REDIS_PORT="${BOXOFFICE_REDIS_PORT:-6379}"
PG_PORT="${BOXOFFICE_PG_PORT:-5432}"
KAFKA_PORT="${BOXOFFICE_KAFKA_PORT:-9092}"
PROM_PORT="${BOXOFFICE_PROMETHEUS_PORT:-9090}"
API_PORT="${BOXOFFICE_API_PORT:-8080}"
WORKER_PORT="${BOXOFFICE_WORKER_PORT:-9101}"
PARTITIONS="${BOXOFFICE_KAFKA_PARTITIONS:-6}"
PG_DB="${BOXOFFICE_PG_DATABASE:-boxoffice}"
# Development defaults, clearly not production credentials.
PG_USER="boxoffice"; PG_PASSWORD="boxoffice-dev-password"
WITH_PROMETHEUS="${BOXOFFICE_WITH_PROMETHEUS:-1}"
SHAPE="${BOXOFFICE_SHAPE:-$(cat "$RUN/shape" 2>/dev/null || echo single)}"
CLUSTER_PORT="${BOXOFFICE_REDIS_CLUSTER_PORT:-7001}"
API_REPLICA_PORTS="${BOXOFFICE_API_REPLICA_PORTS:-8081 8082}"
WORKER_REPLICA_PORTS="${BOXOFFICE_WORKER_REPLICA_PORTS:-9101 9102}"
case "$SHAPE" in single|scaled) ;; *) die "BOXOFFICE_SHAPE must be single or scaled, got '$SHAPE'" ;; esac

PIDS="$RUN/pids"; LOGS="$RUN/logs"
mkdir -p "$PIDS" "$LOGS"

# MARK: Redis
start_redis() {
    if pid_alive "$PIDS/redis.pid"; then log "redis: already running on $REDIS_PORT"; return; fi
    port_open "$REDIS_PORT" && die "redis: port $REDIS_PORT is taken by another process; set BOXOFFICE_REDIS_PORT"
    mkdir -p "$RUN/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN/redis" \
        --appendonly yes --appendfsync "${BOXOFFICE_REDIS_APPENDFSYNC:-everysec}" --save "" \
        --auto-aof-rewrite-min-size "${BOXOFFICE_REDIS_AOF_REWRITE_MIN_SIZE:-1gb}" \
        --daemonize yes --pidfile "$PIDS/redis.pid" --logfile "$LOGS/redis.log" \
        --maxclients 10000
    wait_for redis 20 redis-cli -p "$REDIS_PORT" ping || die "redis did not answer on $REDIS_PORT; see $LOGS/redis.log"
    log "redis: listening on 127.0.0.1:$REDIS_PORT (AOF on)"
}

# MARK: PostgreSQL
# As root, PostgreSQL runs as the postgres user, which may not be able to enter
# the checkout: a new stack's data, socket and log then live in
# service_state_dir, $RUN/postgres being a symlink to them (see common.sh).
# $LOGS/postgres.log links to the log wherever it is.
pg_dir() {
    local dir="$RUN/postgres" state
    if is_root && [ ! -e "$dir" ]; then
        state="$(service_state_dir "$RUN")"
        install -d -o postgres -g postgres -m 700 "$state/postgres"
        ln -sfn "$state/postgres" "$dir"
    fi
    mkdir -p "$dir"
    dir="$(readlink -f "$dir")"
    if [ ! -e "$dir/postgres.log" ]; then
        touch "$dir/postgres.log"
        if is_root; then chown postgres:postgres "$dir" "$dir/postgres.log"; chmod 700 "$dir"; fi
    fi
    ln -sfn "$dir/postgres.log" "$LOGS/postgres.log"
    echo "$dir"
}

start_postgres() {
    local bin pgdir data sock
    bin="$(pg_bindir)"; pgdir="$(pg_dir)"; data="$pgdir/data"; sock="$pgdir"
    if [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        log "postgres: already running on $PG_PORT"
    else
        port_open "$PG_PORT" && die "postgres: port $PG_PORT is taken by another process; set BOXOFFICE_PG_PORT"
        if [ ! -f "$data/PG_VERSION" ]; then
            log "postgres: initdb $data"
            as_pg "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
                -E UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log" 2>&1 || die "initdb failed; see $LOGS/initdb.log"
        fi
        as_pg "$bin/pg_ctl" -D "$data" -l "$pgdir/postgres.log" -w -t 60 \
            -o "-p $PG_PORT -k $sock -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
            || die "postgres did not start; see $LOGS/postgres.log"
        log "postgres: listening on 127.0.0.1:$PG_PORT"
    fi
    head -1 "$data/postmaster.pid" > "$PIDS/postgres.pid"
    # Role and database, idempotently (local socket, trust, as the superuser).
    local psql=(as_pg "$bin/psql" -h "$sock" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'")" != 1 ]; then
        "${psql[@]}" -c "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'" >/dev/null
    fi
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$PG_DB'")" != 1 ]; then
        "${psql[@]}" -c "CREATE DATABASE $PG_DB OWNER $PG_USER" >/dev/null
        log "postgres: created database $PG_DB"
    fi
}

# MARK: Kafka (Tansu)
start_kafka() {
    local tansu; tansu="$(tansu_bin)"
    if pid_alive "$PIDS/kafka.pid"; then
        log "kafka: already running on $KAFKA_PORT"
    else
        port_open "$KAFKA_PORT" && die "kafka: port $KAFKA_PORT is taken by another process; set BOXOFFICE_KAFKA_PORT"
        nohup "$tansu" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
            --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
            --storage-engine "memory://tansu/" >"$LOGS/kafka.log" 2>&1 </dev/null &
        echo $! > "$PIDS/kafka.pid"
        wait_for kafka 30 port_open "$KAFKA_PORT" || die "tansu did not listen on $KAFKA_PORT; see $LOGS/kafka.log"
        log "kafka: tansu listening on 127.0.0.1:$KAFKA_PORT (memory storage)"
    fi
    local topics; topics="$("$tansu" topic list --broker "tcp://127.0.0.1:$KAFKA_PORT" 2>/dev/null || true)"
    for t in reservations reservations.dlq; do
        if ! grep -q "\"$t\"" <<<"$topics" && ! grep -qx "$t" <<<"$topics"; then
            "$tansu" topic create "$t" --partitions "$PARTITIONS" --broker "tcp://127.0.0.1:$KAFKA_PORT" >>"$LOGS/kafka.log" 2>&1 \
                || die "could not create topic $t; see $LOGS/kafka.log"
            log "kafka: created topic $t ($PARTITIONS partitions)"
        fi
    done
}

# MARK: Prometheus
start_prometheus() {
    [ "$WITH_PROMETHEUS" = 1 ] || return 0
    mkdir -p "$RUN/prometheus"
    local api_targets="\"127.0.0.1:$API_PORT\"" worker_targets="\"127.0.0.1:$WORKER_PORT\"" p
    if [ "$SHAPE" = scaled ]; then
        api_targets=""; worker_targets=""
        for p in $API_REPLICA_PORTS; do api_targets+="${api_targets:+, }\"127.0.0.1:$p\""; done
        for p in $WORKER_REPLICA_PORTS; do worker_targets+="${worker_targets:+, }\"127.0.0.1:$p\""; done
    fi
    # Every replica is a target of its own: Prometheus labels its series with instance="host:port".
    sed -e "s/\"localhost:8080\"/$api_targets/; s/\"localhost:9101\"/$worker_targets/" \
        "$ROOT/prometheus.yml" > "$RUN/prometheus/prometheus.yml"
    cp "$ROOT/prometheus/rules.yml" "$RUN/prometheus/rules.yml"
    if pid_alive "$PIDS/prometheus.pid"; then
        kill -HUP "$(cat "$PIDS/prometheus.pid")"   # reload the configuration and rules
        log "prometheus: already running on $PROM_PORT (configuration reloaded)"
        return
    fi
    port_open "$PROM_PORT" && die "prometheus: port $PROM_PORT is taken by another process; set BOXOFFICE_PROMETHEUS_PORT"
    nohup prometheus --config.file="$RUN/prometheus/prometheus.yml" \
        --storage.tsdb.path="$RUN/prometheus/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
        >"$LOGS/prometheus.log" 2>&1 </dev/null &
    echo $! > "$PIDS/prometheus.pid"
    wait_for prometheus 30 port_open "$PROM_PORT" || die "prometheus did not listen on $PROM_PORT; see $LOGS/prometheus.log"
    log "prometheus: listening on 127.0.0.1:$PROM_PORT (rules from prometheus/rules.yml)"
}

# MARK: haproxy (scaled shape): the API port balanced over the API replicas
start_haproxy() {
    local cfg="$RUN/haproxy/haproxy.cfg" p i=0
    mkdir -p "$RUN/haproxy"
    {
        cat <<CFG
# Written by scripts/stack.sh for the scaled shape: port $API_PORT balanced over the API replicas,
# each health-checked on /ready (out after 2 failed checks, back after 1 good one).
global
    maxconn 8000
defaults
    mode http
    option http-keep-alive
    option redispatch
    retries 2
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend boxoffice
    bind 127.0.0.1:$API_PORT
    default_backend api
backend api
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
CFG
        for p in $API_REPLICA_PORTS; do i=$((i + 1)); echo "    server api-$i 127.0.0.1:$p check"; done
    } > "$cfg"
    haproxy -c -q -f "$cfg" || die "haproxy: invalid configuration $cfg"
    if pid_alive "$PIDS/haproxy.pid"; then
        # A soft reload: the old process hands over its listener and finishes its requests.
        haproxy -D -f "$cfg" -p "$PIDS/haproxy.pid" -sf "$(cat "$PIDS/haproxy.pid")"
        log "haproxy: reloaded on $API_PORT"
        return
    fi
    port_open "$API_PORT" && die "haproxy: port $API_PORT is taken by another process (the single shape's API? run make down)"
    haproxy -D -f "$cfg" -p "$PIDS/haproxy.pid" 2>>"$LOGS/haproxy.log" || die "haproxy did not start; see $LOGS/haproxy.log"
    log "haproxy: listening on 127.0.0.1:$API_PORT, balancing API replicas on $API_REPLICA_PORTS"
}

redis_url() {
    if [ "$SHAPE" = scaled ]; then
        echo "redis://127.0.0.1:$CLUSTER_PORT,127.0.0.1:$((CLUSTER_PORT + 1)),127.0.0.1:$((CLUSTER_PORT + 2))"
    else
        echo "redis://127.0.0.1:$REDIS_PORT"
    fi
}

write_env() {
    local secret_file="$RUN/jwt_secret"
    if [ ! -s "$secret_file" ]; then
        head -c 48 /dev/urandom | base64 | tr -d '\n/+=' > "$secret_file"; chmod 600 "$secret_file"
    fi
    cat > "$RUN/env" <<ENV
# Settings of the stack in $RUN, written by scripts/stack.sh. Source it: . $RUN/env
export BOXOFFICE_SHAPE=$SHAPE
export BOXOFFICE_REDIS_URL=$(redis_url)
export BOXOFFICE_DATABASE_URL=postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
export BOXOFFICE_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export BOXOFFICE_KAFKA_PARTITIONS=$PARTITIONS
export BOXOFFICE_JWT_SECRET=$(cat "$secret_file")
export BOXOFFICE_API_PORT=$API_PORT
export BOXOFFICE_WORKER_PORT=$WORKER_PORT
export BOXOFFICE_PROMETHEUS_PORT=$PROM_PORT
export BOXOFFICE_REDIS_PORT=$REDIS_PORT
export BOXOFFICE_PG_PORT=$PG_PORT
export BOXOFFICE_KAFKA_PORT=$KAFKA_PORT
export BOXOFFICE_RUN_DIR=$RUN
# Every buyer of a local rehearsal (k6) comes from 127.0.0.1: no per-address join limit here.
export BOXOFFICE_RATE_QUEUE_JOIN_PER_MINUTE=100000000
export BOXOFFICE_REDIS_CLUSTER_PORT=$CLUSTER_PORT
export BOXOFFICE_API_REPLICA_PORTS="$API_REPLICA_PORTS"
export BOXOFFICE_WORKER_REPLICA_PORTS="$WORKER_REPLICA_PORTS"
export BOXOFFICE_TANSU_BIN=$(tansu_bin)
export LD_LIBRARY_PATH=$RDKAFKA_LIB_DIR\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
ENV
    chmod 600 "$RUN/env"
}

stop_all() {
    stop_pid haproxy "$PIDS/haproxy.pid"
    stop_pid prometheus "$PIDS/prometheus.pid"
    stop_pid kafka "$PIDS/kafka.pid"
    local data; data="$(readlink -f "$RUN/postgres" || true)/data"
    if [ -f "$data/postmaster.pid" ]; then
        as_pg "$(pg_bindir)/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 && log "stopped postgres" || true
    fi
    rm -f "$PIDS/postgres.pid"
    if pid_alive "$PIDS/redis.pid"; then
        redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
        stop_pid redis "$PIDS/redis.pid"
        log "stopped redis"
    fi
    rm -f "$PIDS/redis.pid"
    "$ROOT/scripts/redis-cluster.sh" stop "$RUN/redis-cluster"
    rm -f "$RUN/shape"
}

status_all() {
    local name pidfile
    echo "shape      $(cat "$RUN/shape" 2>/dev/null || echo "none (make up or make up-scale)")"
    for name in redis postgres kafka prometheus haproxy api api-1 api-2 worker worker-1 worker-2; do
        pidfile="$PIDS/$name.pid"
        if pid_alive "$pidfile"; then printf '%-11s running  pid %s\n' "$name" "$(cat "$pidfile")"
        elif [ -e "$pidfile" ] || [[ "$name" != *-* && "$name" != haproxy ]]; then printf '%-11s stopped\n' "$name"; fi
    done
    "$ROOT/scripts/redis-cluster.sh" status "$RUN/redis-cluster"
}

case "${1:-}" in
    start)
        if [ "$SHAPE" = scaled ]; then
            pid_alive "$PIDS/redis.pid" && die "the single shape's Redis is running; run make down first"
            "$ROOT/scripts/redis-cluster.sh" start "$RUN/redis-cluster" "$CLUSTER_PORT"
        else
            pid_alive "$PIDS/haproxy.pid" && die "the scaled shape is running; run make down first"
            start_redis
        fi
        start_postgres; start_kafka; start_prometheus
        if [ "$SHAPE" = scaled ]; then start_haproxy; fi
        echo "$SHAPE" > "$RUN/shape"
        write_env ;;
    stop) stop_all ;;
    status) status_all ;;
    env) write_env ;;
    *) die "usage: $0 start|stop|status|env" ;;
esac
