#!/usr/bin/env bash
# make test: the whole suite against its own servers on their own ports
# (Redis 16379, PostgreSQL 15432, Kafka 19092), state under .run/test, so it
# runs while make up's stack is serving. The servers are stopped afterwards,
# on failure too.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export BOXOFFICE_RUN_DIR="$ROOT/.run/test"
export BOXOFFICE_REDIS_PORT="${BOXOFFICE_TEST_REDIS_PORT:-16379}"
export BOXOFFICE_PG_PORT="${BOXOFFICE_TEST_PG_PORT:-15432}"
export BOXOFFICE_KAFKA_PORT="${BOXOFFICE_TEST_KAFKA_PORT:-19092}"
export BOXOFFICE_PROMETHEUS_PORT="${BOXOFFICE_TEST_PROMETHEUS_PORT:-19090}"
export BOXOFFICE_API_PORT="${BOXOFFICE_TEST_API_PORT:-18080}"
export BOXOFFICE_WORKER_PORT="${BOXOFFICE_TEST_WORKER_PORT:-19101}"
export BOXOFFICE_PG_DATABASE=boxoffice_test
export BOXOFFICE_WITH_PROMETHEUS=0
export BOXOFFICE_ENV_FILE="$BOXOFFICE_RUN_DIR/env"

"$ROOT/scripts/install.sh"

# A fresh test stack every run.
"$ROOT/scripts/stack.sh" stop >/dev/null 2>&1 || true
rm -rf "$BOXOFFICE_RUN_DIR"
trap '"$ROOT/scripts/stack.sh" stop' EXIT
"$ROOT/scripts/stack.sh" start
# shellcheck disable=SC1090
source "$BOXOFFICE_RUN_DIR/env"

cd "$ROOT"
log "building tests (swift build --build-tests)"
swift build --build-tests 2>&1 | grep -E "error:|warning: .*\.swift|Build" || true
BIN="$(swift build --show-bin-path)"
[ -x "$BIN/boxofficectl" ] || die "build failed"
"$BIN/boxofficectl" migrate
export BOXOFFICE_BIN_DIR="$BIN"

log "running swift test"
swift test --skip-build "$@"
