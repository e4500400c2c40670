#!/usr/bin/env bash
# docs/indexes.md's figures: every index of the schema against the query it serves, on a
# generated data set (default 1,000,000 bookings over 50 events, each event's inserted together
# as an on-sale's are, and 200,000 buyers, 600,000
# payments, 100,000 users), each query's plan and its median execution time over 5 runs
# with the index and without it (dropped inside a transaction that is rolled back).
# Runs on the stack's PostgreSQL (make up) in a scratch database, dropped at the end.
#   scripts/index-report.sh [bookings]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BOOKINGS="${1:-1000000}"
RUN="${BOXOFFICE_RUN_DIR:-$ROOT/.run}"
[ -f "$RUN/env" ] || die "no stack: run make up first"
source "$RUN/env"
DB=boxoffice_indexes
SOCK="$(readlink -f "$RUN/postgres")"
su_psql() { as_pg psql -h "$SOCK" -p "$BOXOFFICE_PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
URL="${BOXOFFICE_DATABASE_URL%/*}/$DB"
db() { psql "$URL" -v ON_ERROR_STOP=1 -qtAX "$@"; }
su_psql -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB OWNER boxoffice" >/dev/null
trap 'su_psql -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true' EXIT
BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)"
BOXOFFICE_DATABASE_URL="$URL" "$BIN/boxofficectl" migrate >/dev/null

log "generating $BOOKINGS bookings, $((BOOKINGS * 3 / 5)) payments, 100000 users"
db <<SQL
INSERT INTO users (id, name, email, password_hash)
  SELECT 'usr_' || g, 'User ' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, 100000) g;
INSERT INTO bookings (reservation_id, event_id, category, user_id, qty, amount, currency, status, held_at, created_at, updated_at)
  SELECT 'ev_' || (g * 50 / ($BOOKINGS + 1)) || '.' || lpad(to_hex(g), 20, '0'), 'ev_' || (g * 50 / ($BOOKINGS + 1)), 'floor',
         'buyer-' || (g % 200000), 1, 4500, 'EUR',
         (ARRAY['held', 'confirmed', 'confirmed', 'cancelled', 'expired'])[1 + g % 5],
         now() - make_interval(secs => g), now() - make_interval(secs => g), now() - make_interval(secs => g)
  FROM generate_series(1, $BOOKINGS) g;
INSERT INTO payments (id, reservation_id, status, amount, currency)
  SELECT 'pay_' || g, 'ev_' || (g * 50 / ($BOOKINGS + 1)) || '.' || lpad(to_hex(g), 20, '0'), 'succeeded', 4500, 'EUR'
  FROM generate_series(1, $BOOKINGS * 3 / 5) g;
ANALYZE users, bookings, payments;
SQL

# name | index | query
QUERIES=(
  "GET /me/bookings, first page|bookings_user_created_idx|SELECT reservation_id, event_id, category, qty, amount, currency, status, created_at FROM bookings WHERE user_id = 'buyer-4242' ORDER BY created_at DESC, reservation_id DESC LIMIT 21"
  "GET /me/bookings, next page|bookings_user_created_idx|SELECT reservation_id, created_at FROM bookings WHERE user_id = 'buyer-4242' AND (created_at, reservation_id) < (now() - interval '1 hour', 'x') ORDER BY created_at DESC, reservation_id DESC LIMIT 21"
  "reconcile: an event's bookings|bookings_event_status_idx|SELECT reservation_id, status FROM bookings WHERE event_id = 'ev_7'"
  "a reservation's payments|payments_reservation_idx|SELECT count(*) FROM payments WHERE reservation_id = 'ev_0.00000000000000000005'"
  "login by email|users_email_lower_key|SELECT id, name, email, password_hash, role FROM users WHERE lower(email) = lower('User4242@example.com')"
)
median_ms() {  # SQL -> median execution time (ms) of 5 EXPLAIN ANALYZE runs, optionally after $2 (in the same transaction)
    local i times=()
    for i in 1 2 3 4 5; do
        times+=("$(db -c "BEGIN" ${2:+-c "$2"} -c "EXPLAIN (ANALYZE, FORMAT JSON) $1" -c "ROLLBACK" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])')")
    done
    printf '%s\n' "${times[@]}" | sort -g | sed -n 3p
}
echo "| query | index | with it (ms) | without it (ms) |"
echo "|---|---|---|---|"
for q in "${QUERIES[@]}"; do
    IFS='|' read -r name index sql <<<"$q"
    with="$(median_ms "$sql")"
    without="$(median_ms "$sql" "DROP INDEX $index")"
    echo "| $name | \`$index\` | $with | $without |"
done
echo
for q in "${QUERIES[@]}"; do
    IFS='|' read -r name index sql <<<"$q"
    echo "### $name"
    echo '```'
    db -c "EXPLAIN $sql"
    echo '```'
done
