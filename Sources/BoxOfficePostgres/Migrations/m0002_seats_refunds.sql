-- BoxOffice schema, version 2: per-event hold time and refund cut-off, seat maps, late
-- payments and refunds.

-- hold_ttl_seconds NULL: the server's default hold time.
ALTER TABLE events
    ADD COLUMN hold_ttl_seconds    integer CHECK (hold_ttl_seconds BETWEEN 30 AND 3600),
    ADD COLUMN refund_cutoff_hours integer NOT NULL DEFAULT 24 CHECK (refund_cutoff_hours BETWEEN 0 AND 8760),
    ADD COLUMN cancelled_at        timestamptz;

-- The seat map as the admin gave it (sections, rows, labels); NULL: general admission.
ALTER TABLE ticket_categories ADD COLUMN seat_map jsonb;

ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings
    ADD CONSTRAINT bookings_status_check CHECK (status IN ('held', 'confirmed', 'cancelled', 'expired', 'refunded')),
    ADD COLUMN refunded_at timestamptz,
    -- Confirmed after its hold had expired (a late payment).
    ADD COLUMN late        boolean NOT NULL DEFAULT false,
    -- The seat ids of a seated reservation, comma-separated (ids never hold a comma).
    ADD COLUMN seats       text;

-- A payment row is a charge (succeeded or failed), a charge owed back because it bought no
-- ticket (refund_owed), or a refund given (refunded, its id the refund's reference).
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments
    ADD CONSTRAINT payments_status_check CHECK (status IN ('succeeded', 'failed', 'refund_owed', 'refunded'));
-- reconcile: the charges of an event whose booking holds no ticket.
CREATE INDEX payments_status_idx ON payments (status) WHERE status IN ('succeeded', 'refund_owed');

-- One row per sold seat of a confirmed booking: a seat is sold to one reservation at a time,
-- the second guard after Redis. A refund deletes its rows, so the seat can be sold again; as
-- events of different reservations may arrive in any order, a seat goes to the booking
-- confirmed last (by Redis time), the only one Redis can have sold it to.
CREATE TABLE booking_seats (
    event_id       text NOT NULL,
    seat           text NOT NULL,
    reservation_id text NOT NULL REFERENCES bookings (reservation_id),
    confirmed_at   timestamptz NOT NULL,
    PRIMARY KEY (event_id, seat)
);
-- A refund removes the seats of its reservation.
CREATE INDEX booking_seats_reservation_idx ON booking_seats (reservation_id);
