#!/usr/bin/env bash
# Part of make test (run by scripts/test.sh with the test stack up): the web app in headless
# Chromium (scripts/tools/browser_test.py) against an API of its own on the test stack, whose
# holds last BOXOFFICE_TEST_BROWSER_HOLD_TTL seconds (15) so that the test sees one expire.
# Screenshots of every page at 375 and 1440 px go to $BOXOFFICE_RUN_DIR/screenshots/.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="$BOXOFFICE_RUN_DIR"; BIN="$1"
PORT="${BOXOFFICE_TEST_BROWSER_PORT:-18090}"
TTL="${BOXOFFICE_TEST_BROWSER_HOLD_TTL:-15}"
port_open "$PORT" && die "port $PORT is taken; set BOXOFFICE_TEST_BROWSER_PORT"
BOXOFFICE_API_PORT="$PORT" BOXOFFICE_HOLD_TTL_SECONDS="$TTL" BOXOFFICE_LOG_LEVEL=warning \
    BOXOFFICE_RATE_SIGNUP_PER_MINUTE=1000 BOXOFFICE_RATE_LOGIN_PER_MINUTE=1000 \
    "$BIN/boxoffice-api" >"$RUN/logs/api-browser.log" 2>&1 &
echo $! > "$RUN/pids/api-browser.pid"
trap 'stop_pid api-browser "$RUN/pids/api-browser.pid"' EXIT
wait_for api 60 curl -fsS "http://127.0.0.1:$PORT/ready" || die "the browser test's API is not ready; see $RUN/logs/api-browser.log"
rm -rf "$RUN/screenshots"
log "browser: the web app in headless Chromium (holds of $TTL s), screenshots in $RUN/screenshots/"
"$VENV/bin/python" "$ROOT/scripts/tools/browser_test.py" "http://127.0.0.1:$PORT" \
    "$("$BIN/boxofficectl" token --role admin --sub browser-admin)" "$RUN/screenshots" "$TTL"
