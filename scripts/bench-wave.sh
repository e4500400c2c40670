#!/usr/bin/env bash
# The expiry wave of a hot on-sale, on the running release stack (make up):
#   1. the quiet p99 of POST /reserve on an event of its own (wrk, 64 connections);
#   2. a wave: HOLDS holds of another event (default 100,000) made through reserve.lua with
#      hold times that bring them all due together, as close as they can be made;
#   3. POST /reserve on the first event again while the stack's sweeper lapses the wave:
#      its p99 during the wave, and the sweep rate (holds over the time from the first hold
#      due until none is left).
# Prints the sweep rate and both p99s with their ratio (goal: during <= 2 x quiet).
#   scripts/bench-wave.sh [holds] [seconds of each wrk phase]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
HOLDS="${1:-100000}"; PHASE="${2:-8}"
bench_stack
command -v wrk >/dev/null || die "wrk is not installed: run scripts/install.sh"
redis_ms() { rcli time | awk 'NR == 1 { s = $1 } NR == 2 { printf "%.0f\n", s * 1000 + int($1 / 1000) }'; }

EVENT="$(bench_event bench-wave)"
"$BIN/boxofficectl" token --sub "wave-$(date +%s)" --count 3000 > "$RUN/bench-wave-tokens.txt"
reserve_p99() {  # seconds -> p99 in ms of POST /reserve on $EVENT
    MODE=reserve EVENT_ID="$EVENT" TOKENS_FILE="$RUN/bench-wave-tokens.txt" \
        wrk -t 2 -c 64 -d "${1}s" -s "$ROOT/scripts/tools/wrk-bench.lua" "$BASE/reserve" 2>>"$RUN/bench-wave.log" \
        | sed -n 's/^WRK //p' | python3 -c 'import json,sys; r = json.load(sys.stdin); print("%.2f %.0f" % (r["p99_ms"], r["requests"] / r["seconds"]))'
}

log "quiet: POST /reserve for ${PHASE}s on event $EVENT"
read -r QUIET_P99 QUIET_RPS <<<"$(reserve_p99 "$PHASE")"
log "wave: $HOLDS holds due together"
WAVE="$("$BIN/boxoffice-bench" wave --redis "$BOXOFFICE_REDIS_URL" --holds "$HOLDS" --due-in 30 --spread 0)"
read -r WEVENT FIRST LAST PER_HOLD <<<"$(python3 -c 'import json,sys; w = json.loads(sys.argv[1]); print(w["event"], w["first_due_ms"], w["last_due_ms"], w["bytes_per_hold"])' "$WAVE")"
echo "redis memory per hold: $PER_HOLD bytes (used_memory over the wave's holds, its outbox emptied)"
log "wave: event $WEVENT, due from $FIRST to $LAST (Redis ms, $((LAST - FIRST)) ms apart)"
until [ "$(redis_ms)" -ge $((FIRST - 1000)) ]; do sleep 0.05; done
# The reserve phase starts a second before the first hold is due and runs through the sweep.
reserve_p99 "$PHASE" > "$RUN/bench-wave-during.txt" &
WRK=$!
until [ "$(rcli zcard "bo:{ev:$WEVENT}:holds")" = 0 ]; do sleep 0.02; done
DONE="$(redis_ms)"
wait "$WRK"
read -r WAVE_P99 WAVE_RPS < "$RUN/bench-wave-during.txt"
python3 - "$HOLDS" "$FIRST" "$LAST" "$DONE" "$QUIET_P99" "$QUIET_RPS" "$WAVE_P99" "$WAVE_RPS" <<'PY'
import sys
holds, first, last, done = (int(x) for x in sys.argv[1:5])
qp99, qrps, wp99, wrps = (float(x) for x in sys.argv[5:9])
took = max(done - first, 1)
print(f"sweep: {holds} holds due within {last - first} ms, all back on sale {done - last} ms after the last was due: "
      f"{holds / took * 1000:.0f} holds/s")
print(f"reserve on another event: quiet p99 {qp99:.2f} ms ({qrps:.0f}/s), during the wave p99 {wp99:.2f} ms ({wrps:.0f}/s): "
      f"{wp99 / qp99:.2f}x (goal <= 2x)")
PY
# The wave's reservations leave Redis with its keys; their bookings stay in PostgreSQL.
unlink_matching "bo:{ev:$WEVENT}:*"
rcli srem bo:events "$WEVENT" >/dev/null
