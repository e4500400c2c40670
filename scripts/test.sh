#!/usr/bin/env bash
# make test: the whole suite against its own servers on their own ports
# (Redis 16379, a Redis Cluster on 16381-16386, PostgreSQL 15432, Kafka 19092),
# state under .run/test, so it
# runs while make up's stack is serving. The servers are stopped afterwards,
# on failure too, with whatever a crashed test process left running.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export BOXOFFICE_RUN_DIR="$ROOT/.run/test"
export BOXOFFICE_SHAPE=single
export BOXOFFICE_REDIS_PORT="${BOXOFFICE_TEST_REDIS_PORT:-16379}"
export BOXOFFICE_PG_PORT="${BOXOFFICE_TEST_PG_PORT:-15432}"
export BOXOFFICE_KAFKA_PORT="${BOXOFFICE_TEST_KAFKA_PORT:-19092}"
export BOXOFFICE_PROMETHEUS_PORT="${BOXOFFICE_TEST_PROMETHEUS_PORT:-19090}"
export BOXOFFICE_API_PORT="${BOXOFFICE_TEST_API_PORT:-18080}"
export BOXOFFICE_WORKER_PORT="${BOXOFFICE_TEST_WORKER_PORT:-19101}"
CLUSTER_PORT="${BOXOFFICE_TEST_REDIS_CLUSTER_PORT:-16381}"
export BOXOFFICE_TEST_REDIS_CLUSTER_URL="redis://127.0.0.1:$CLUSTER_PORT,127.0.0.1:$((CLUSTER_PORT + 1)),127.0.0.1:$((CLUSTER_PORT + 2))"
export BOXOFFICE_PG_DATABASE=boxoffice_test
export BOXOFFICE_WITH_PROMETHEUS=0
export BOXOFFICE_ENV_FILE="$BOXOFFICE_RUN_DIR/env"

"$ROOT/scripts/install.sh"

# A fresh test stack every run.
"$ROOT/scripts/stack.sh" stop >/dev/null 2>&1 || true
"$ROOT/scripts/redis-cluster.sh" stop "$BOXOFFICE_RUN_DIR/redis-cluster" >/dev/null 2>&1 || true
remove_run_dir "$BOXOFFICE_RUN_DIR"
SUMMARY=""
# A test process that crashes leaves its children running: APIs and workers, found by this
# mark they inherit, and private redis-servers (which overwrite their environment with their
# process title), found by the pid files in their temporary folders.
export BOXOFFICE_TEST_RUN="$$-$RANDOM$RANDOM"
cleanup() {
    stop_pid api "$BOXOFFICE_RUN_DIR/pids/api.pid"
    stop_pid worker "$BOXOFFICE_RUN_DIR/pids/worker.pid"
    "$ROOT/scripts/stack.sh" stop
    "$ROOT/scripts/redis-cluster.sh" stop "$BOXOFFICE_RUN_DIR/redis-cluster"
    release_service_state "$BOXOFFICE_RUN_DIR"
    local mark="BOXOFFICE_TEST_RUN=$BOXOFFICE_TEST_RUN" p left=0
    unset BOXOFFICE_TEST_RUN
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "$mark"; then
            kill -9 "${p#/proc/}" 2>/dev/null && left=$((left + 1))
        fi
    done
    for p in "${TMPDIR:-/tmp}"/boxoffice-redis-*/redis.pid "${TMPDIR:-/tmp}"/boxoffice-redis-cluster-*/*/redis.pid; do
        [ -f "$p" ] || continue
        kill -9 "$(cat "$p")" 2>/dev/null && left=$((left + 1))
    done
    rm -rf "${TMPDIR:-/tmp}"/boxoffice-redis-*
    [ "$left" -gt 0 ] && log "killed $left processes a test left running"
    # The suite's closing line comes last, after the servers are down.
    if [ -n "$SUMMARY" ]; then echo "$SUMMARY"; fi
}
trap cleanup EXIT
# The whole suite first checks the deployment files, and that the stack's servers start
# from a private clone.
if [ "$#" -eq 0 ]; then "$ROOT/scripts/test-deploy.sh"; "$ROOT/scripts/test-clone.sh"; fi
"$ROOT/scripts/stack.sh" start
"$ROOT/scripts/redis-cluster.sh" start "$BOXOFFICE_RUN_DIR/redis-cluster" "$CLUSTER_PORT"
# shellcheck disable=SC1090
source "$BOXOFFICE_RUN_DIR/env"

cd "$ROOT"
log "building tests (swift build --build-tests; a first build takes several minutes, progress every 100 steps)"
swift build --build-tests 2>&1 | awk '/error:|warning: .*\.swift|Build/ { print; next } /^\[[0-9]+\/[0-9]+\]/ { split($1, a, /[\[\/]/); if (a[2] % 100 == 0) print }' || true
BIN="$(swift build --show-bin-path)"
[ -x "$BIN/boxofficectl" ] || die "build failed"
"$BIN/boxofficectl" migrate
export BOXOFFICE_BIN_DIR="$BIN"

log "running swift test"
swift test --skip-build "$@" 2>&1 | tee "$BOXOFFICE_RUN_DIR/logs/swift-test.log"

# With a filter the caller wants only some Swift tests; the API conformance run is for the whole suite.
if [ "$#" -eq 0 ]; then
    log "schemathesis: the served OpenAPI document against the live API (debug build, port $BOXOFFICE_API_PORT)"
    BOXOFFICE_LOG_LEVEL=warning BOXOFFICE_RATE_SIGNUP_PER_MINUTE=1000000 BOXOFFICE_RATE_LOGIN_PER_MINUTE=1000000 \
        BOXOFFICE_RATE_RESERVE_PER_SECOND=1000000 BOXOFFICE_RATE_RESERVE_BURST=1000000 BOXOFFICE_RATE_QUEUE_JOIN_PER_MINUTE=100000000 \
        "$BIN/boxoffice-api" >"$BOXOFFICE_RUN_DIR/logs/api-schemathesis.log" 2>&1 &
    echo $! > "$BOXOFFICE_RUN_DIR/pids/api.pid"
    wait_for api 60 curl -fsS "http://127.0.0.1:$BOXOFFICE_API_PORT/ready" || die "API did not become ready; see $BOXOFFICE_RUN_DIR/logs/api-schemathesis.log"
    TOKEN="$("$BIN/boxofficectl" token --role admin --sub schemathesis)"
    "$VENV/bin/schemathesis" run "http://127.0.0.1:$BOXOFFICE_API_PORT/openapi.yaml" \
        -H "Authorization: Bearer $TOKEN" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --phases examples,coverage,fuzzing --max-examples 25 --exclude-path /metrics --workers 2 --seed 20261121

    "$ROOT/scripts/test-observability.sh" "$BIN"
    "$ROOT/scripts/test-browser.sh" "$BIN"

    # One closing line for the whole suite (Swift tests plus the conformance, observability and browser runs passed above).
    n="$(sed -n 's/.*Test run with \([0-9]*\) tests.* passed .*/\1/p' "$BOXOFFICE_RUN_DIR/logs/swift-test.log" | tail -1)"
    SUMMARY="tests: ${n:-0} passed, 0 failed"
fi
