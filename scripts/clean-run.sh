#!/usr/bin/env bash
# make clean-run (after make down): deletes the stack's state, .run/ and what
# its symlinks point to outside the checkout (PostgreSQL's data when run as root).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="${BOXOFFICE_RUN_DIR:-$ROOT/.run}"
remove_run_dir "$RUN"
log "removed $RUN"
