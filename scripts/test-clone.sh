#!/usr/bin/env bash
# Part of make test: clones this repository into a new `mktemp -d` folder (mode
# 700, as a home folder is), starts the stack's servers there on ports of their
# own, checks each answers, stops them and removes the clone's state with
# make clean-run's script. No build: it guards the scripts, not the code.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

tmp="$(mktemp -d)"
clone="$tmp/boxoffice"
trap 'BOXOFFICE_RUN_DIR="$clone/.run" "$clone/scripts/stack.sh" stop >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git clone -q "$ROOT" "$clone"
mode="$(stat -c %a "$tmp")"
[ "$mode" = 700 ] || die "clone test: $tmp has mode $mode, expected 700"

# The clone's own stack, sharing this checkout's pip packages.
export BOXOFFICE_VENV="$VENV" BOXOFFICE_RUN_DIR="$clone/.run" BOXOFFICE_WITH_PROMETHEUS=0
export BOXOFFICE_REDIS_PORT="${BOXOFFICE_CLONE_REDIS_PORT:-26379}"
export BOXOFFICE_PG_PORT="${BOXOFFICE_CLONE_PG_PORT:-25432}"
export BOXOFFICE_KAFKA_PORT="${BOXOFFICE_CLONE_KAFKA_PORT:-29092}"
export BOXOFFICE_PG_DATABASE=boxoffice_clone

log "clone test: the stack's servers in $clone (as $(id -un))"
"$clone/scripts/stack.sh" start
# shellcheck disable=SC1091
source "$clone/.run/env"
redis-cli -p "$BOXOFFICE_REDIS_PORT" ping | grep -qx PONG || die "clone test: redis does not answer"
PGCONNECT_TIMEOUT=5 psql "$BOXOFFICE_DATABASE_URL" -qtAc 'SELECT 1' | grep -qx 1 \
    || die "clone test: postgres does not accept the stack's role over TCP"
port_open "$BOXOFFICE_KAFKA_PORT" || die "clone test: the broker does not listen"
[ -s "$clone/.run/logs/postgres.log" ] || die "clone test: .run/logs/postgres.log is empty or missing"
pgdata="$(readlink -f "$clone/.run/postgres")"

"$clone/scripts/stack.sh" stop
BOXOFFICE_RUN_DIR="$clone/.run" "$clone/scripts/clean-run.sh"
[ ! -e "$clone/.run" ] || die "clone test: clean-run left $clone/.run"
[ ! -e "$pgdata" ] || die "clone test: clean-run left PostgreSQL's data in $pgdata"
[ "$(stat -c %a "$tmp")" = 700 ] || die "clone test: the folder above the checkout changed mode"
log "clone test: passed (servers started, answered, stopped and removed from a mode-700 folder)"
