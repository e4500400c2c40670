#!/usr/bin/env bash
# make down: stop exactly what make up or make up-scale started (by the pids it recorded).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="${BOXOFFICE_RUN_DIR:-$ROOT/.run}"; export BOXOFFICE_RUN_DIR="$RUN"
[ -f "$RUN/env" ] && source "$RUN/env"
for name in api api-1 api-2 worker worker-1 worker-2; do
    stop_pid "$name" "$RUN/pids/$name.pid"
done
"$ROOT/scripts/stack.sh" stop
log "stack stopped"
