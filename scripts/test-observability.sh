#!/usr/bin/env bash
# Part of make test (run by scripts/test.sh with the test stack up and the API
# serving on the test port): starts the worker, runs each k6 script for 10 s
# against the test API (each must pass its thresholds), then starts a real
# Prometheus scraping both executables with the rules loaded, and checks every
# PromQL expression of grafana/ and prometheus/ against it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="$BOXOFFICE_RUN_DIR"; BIN="$1"
BASE="http://127.0.0.1:$BOXOFFICE_API_PORT"

log "worker on port $BOXOFFICE_WORKER_PORT"
BOXOFFICE_LOG_LEVEL=warning "$BIN/boxoffice-worker" >"$RUN/logs/worker.log" 2>&1 &
echo $! > "$RUN/pids/worker.pid"
wait_for worker 60 curl -fsS "http://127.0.0.1:$BOXOFFICE_WORKER_PORT/ready" || die "worker not ready; see $RUN/logs/worker.log"

ADMIN="$("$BIN/boxofficectl" token --role admin --sub k6-admin)"
TOKENS="$("$BIN/boxofficectl" token --sub "k6-$(date +%s)" --count 300)"
for script in reserve flow browse; do
    log "k6 $script.js for 10 s"
    "$VENV/bin/k6" run -q -e BASE_URL="$BASE" -e ADMIN_TOKEN="$ADMIN" -e USER_TOKENS="$TOKENS" -e DURATION=10s -e VUS=16 \
        -e STOCK=2000 "$ROOT/k6/$script.js" 2>&1 | grep -vE '^CONFIRMED|level=info' | tail -n 30 \
        || die "k6 $script.js did not pass its thresholds"
done
log "k6 queue.js: 300 buyers, a 3 s pre-queue, 600 admissions a minute for 10 s"
"$VENV/bin/k6" run -q -e BASE_URL="$BASE" -e ADMIN_TOKEN="$ADMIN" -e USER_TOKENS="$TOKENS" -e BUYERS=300 -e VUS=30 \
    -e OPEN_IN=3 -e RATE=600 -e DURATION=10s -e STOCK=2000 -e MAX_PER_USER=0 "$ROOT/k6/queue.js" 2>&1 | tail -n 30 \
    || die "k6 queue.js did not pass its thresholds"

log "k6 seats.js: a seat war on 500 seats for 10 s"
"$VENV/bin/k6" run -q -e BASE_URL="$BASE" -e ADMIN_TOKEN="$ADMIN" -e USER_TOKENS="$TOKENS" -e DURATION=10s -e VUS=16 \
    "$ROOT/k6/seats.js" 2>&1 | grep -vE 'level=info' | tail -n 30 \
    || die "k6 seats.js did not pass its thresholds"

log "prometheus on port $BOXOFFICE_PROMETHEUS_PORT"
mkdir -p "$RUN/prometheus"
sed -e "s/localhost:8080/127.0.0.1:$BOXOFFICE_API_PORT/; s/localhost:9101/127.0.0.1:$BOXOFFICE_WORKER_PORT/; s/scrape_interval: 5s/scrape_interval: 2s/; s/evaluation_interval: 5s/evaluation_interval: 2s/" \
    "$ROOT/prometheus.yml" > "$RUN/prometheus/prometheus.yml"
cp "$ROOT/prometheus/rules.yml" "$RUN/prometheus/rules.yml"
promtool check config "$RUN/prometheus/prometheus.yml"
promtool check rules "$ROOT/prometheus/rules.yml"
prometheus --config.file="$RUN/prometheus/prometheus.yml" --storage.tsdb.path="$RUN/prometheus/data" \
    --web.listen-address="127.0.0.1:$BOXOFFICE_PROMETHEUS_PORT" >"$RUN/logs/prometheus.log" 2>&1 &
echo $! > "$RUN/pids/prometheus.pid"
PROM="http://127.0.0.1:$BOXOFFICE_PROMETHEUS_PORT"
scraped() {
    # Two scrapes of both targets: every counter then has a rate.
    curl -fsS "$PROM/api/v1/query" --data-urlencode 'query=min(up) == 1 and on() count(rate(http_requests_total[1m])) > 0 and on() count(rate(worker_events_total[1m])) > 0' \
        | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["data"]["result"] else 1)'
}
# Some traffic between the scrapes so rates have something to show.
deadline=$(( $(date +%s) + 60 ))
until scraped >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "prometheus did not scrape both targets; see $RUN/logs/prometheus.log"
    curl -fsS "$BASE/events" >/dev/null || true
    sleep 1
done
log "prometheus scraped both targets"
"$VENV/bin/python" "$ROOT/scripts/tools/check_observability.py" "$PROM"
