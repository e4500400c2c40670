#!/usr/bin/env bash
# make down: stop exactly what make up started (by the pids it recorded).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="${BOXOFFICE_RUN_DIR:-$ROOT/.run}"; export BOXOFFICE_RUN_DIR="$RUN"
[ -f "$RUN/env" ] && source "$RUN/env"
stop_pid api "$RUN/pids/api.pid"
stop_pid worker "$RUN/pids/worker.pid"
"$ROOT/scripts/stack.sh" stop
log "stack stopped"
