#!/usr/bin/env bash
# A Redis Cluster on one machine: 3 primaries and 3 replicas, AOF on, each node's data, log and
# pid under DIR/<port>. Used by `make up-scale` (ports 7001-7006), by `make test` (its own
# ports) and by the cluster tests (free ports, a folder of their own).
#
#   scripts/redis-cluster.sh start DIR FIRST_PORT   start the six nodes on FIRST_PORT..+5; create
#                                                   the cluster the first time; wait until it is ok
#   scripts/redis-cluster.sh stop DIR               stop every node under DIR
#   scripts/redis-cluster.sh status DIR             one line per node
#
# BOXOFFICE_REDIS_APPENDFSYNC (everysec, or always), BOXOFFICE_REDIS_CLUSTER_NODE_TIMEOUT_MS
# (3000: how long a primary may be silent before its replica takes over) and
# BOXOFFICE_REDIS_CLUSTER_REPLICAS (1: a replica per primary; 0: three primaries alone, for
# benchmarks that separate the cost of replication from that of routing).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REPLICAS="${BOXOFFICE_REDIS_CLUSTER_REPLICAS:-1}"
case "$REPLICAS" in 0|1) ;; *) die "BOXOFFICE_REDIS_CLUSTER_REPLICAS must be 0 or 1" ;; esac
NODES=$((3 * (1 + REPLICAS)))
node_ports() { seq "$1" $(($1 + NODES - 1)); }

cluster_ok() { redis-cli -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

start_cluster() {
    local dir="$1" first="$2" port created=1 started=0
    mkdir -p "$dir"
    for port in $(node_ports "$first"); do
        mkdir -p "$dir/$port"
        if pid_alive "$dir/$port/redis.pid"; then continue; fi
        port_open "$port" && die "redis cluster: port $port is taken by another process"
        [ -s "$dir/$port/nodes.conf" ] || created=0
        redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/$port" \
            --cluster-enabled yes --cluster-config-file nodes.conf \
            --cluster-node-timeout "${BOXOFFICE_REDIS_CLUSTER_NODE_TIMEOUT_MS:-3000}" \
            --appendonly yes --appendfsync "${BOXOFFICE_REDIS_APPENDFSYNC:-everysec}" --save "" \
            --auto-aof-rewrite-min-size "${BOXOFFICE_REDIS_AOF_REWRITE_MIN_SIZE:-1gb}" \
            --daemonize yes --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" \
            --maxclients 10000
        started=$((started + 1))
    done
    for port in $(node_ports "$first"); do
        wait_for "redis $port" 20 redis-cli -p "$port" ping || die "redis cluster: node $port did not answer; see $dir/$port/redis.log"
    done
    if [ "$created" = 0 ]; then
        local addresses=()
        for port in $(node_ports "$first"); do addresses+=("127.0.0.1:$port"); done
        # The first three become primaries, each with one of the last three as its replica.
        redis-cli --cluster create "${addresses[@]}" --cluster-replicas "$REPLICAS" --cluster-yes >"$dir/create.log" 2>&1 \
            || die "redis cluster: create failed; see $dir/create.log"
        log "redis cluster: created on ports $first-$((first + NODES - 1)) (3 primaries, $((NODES - 3)) replicas)"
    fi
    for port in $(node_ports "$first"); do
        wait_for "cluster $port" 30 cluster_ok "$port" || die "redis cluster: node $port is not ok; see $dir/$port/redis.log"
    done
    log "redis cluster: ok on 127.0.0.1:$first-$((first + NODES - 1)) (AOF on; $started nodes started)"
}

stop_cluster() {
    local dir="$1" pidfile port
    for pidfile in "$dir"/*/redis.pid; do
        [ -f "$pidfile" ] || continue
        port="$(basename "$(dirname "$pidfile")")"
        redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
        stop_pid "redis $port" "$pidfile"
    done
}

status_cluster() {
    local dir="$1" pidfile port role
    for pidfile in "$dir"/*/redis.pid; do
        [ -e "$pidfile" ] || continue
        port="$(basename "$(dirname "$pidfile")")"
        if pid_alive "$pidfile"; then
            role="$(redis-cli -p "$port" role 2>/dev/null | head -1)"
            printf '%-11s running  pid %s (%s)\n' "redis:$port" "$(cat "$pidfile")" "${role:-?}"
        else
            printf '%-11s stopped\n' "redis:$port"
        fi
    done
}

case "${1:-}" in
    start) [ "$#" -eq 3 ] || die "usage: $0 start DIR FIRST_PORT"; start_cluster "$2" "$3" ;;
    stop) [ "$#" -eq 2 ] || die "usage: $0 stop DIR"; stop_cluster "$2" ;;
    status) [ "$#" -eq 2 ] || die "usage: $0 status DIR"; status_cluster "$2" ;;
    *) die "usage: $0 start DIR FIRST_PORT | stop DIR | status DIR" ;;
esac
