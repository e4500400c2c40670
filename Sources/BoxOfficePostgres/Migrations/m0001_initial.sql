-- BoxOffice schema, version 1.
-- Ids are opaque text (events and reservations get ids minted by the API; a
-- buyer is a JWT subject, not necessarily a row of users). Money is bigint
-- minor units plus an ISO 4217 currency code.

CREATE TABLE users (
    id            text PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    email         text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Login and sign-up look a user up by email, compared case-insensitively.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE events (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    venue      text NOT NULL,
    starts_at  timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ticket_categories (
    event_id     text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name         text NOT NULL,
    total_stock  integer NOT NULL CHECK (total_stock >= 0),
    price        bigint NOT NULL CHECK (price >= 0),
    currency     char(3) NOT NULL,
    max_per_user integer CHECK (max_per_user IS NULL OR max_per_user > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, name)
);

-- One row per reservation; its status history lives in the *_at columns.
CREATE TABLE bookings (
    reservation_id text PRIMARY KEY,
    event_id       text NOT NULL,
    category       text NOT NULL,
    user_id        text NOT NULL,
    qty            integer NOT NULL CHECK (qty > 0),
    amount         bigint NOT NULL CHECK (amount >= 0),
    currency       char(3) NOT NULL,
    status         text NOT NULL CHECK (status IN ('held', 'confirmed', 'cancelled', 'expired')),
    expires_at     timestamptz,
    held_at        timestamptz,
    confirmed_at   timestamptz,
    cancelled_at   timestamptz,
    expired_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- GET /me/bookings: a user's bookings, newest first, keyset-paginated.
CREATE INDEX bookings_user_created_idx ON bookings (user_id, created_at DESC, reservation_id DESC);
-- reconcile: the bookings of one event.
CREATE INDEX bookings_event_status_idx ON bookings (event_id, status);

CREATE TABLE payments (
    id             text PRIMARY KEY,           -- the payment reference from the gateway
    reservation_id text NOT NULL REFERENCES bookings (reservation_id),
    status         text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    amount         bigint NOT NULL CHECK (amount >= 0),
    currency       char(3) NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- The payments of a reservation (booking detail, reconcile).
CREATE INDEX payments_reservation_idx ON payments (reservation_id);

-- Idempotency of the worker: one row per Kafka event id applied.
CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    type         text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
