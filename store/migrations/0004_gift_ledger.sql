-- Gift catalog, wallets and the gift ledger.
CREATE TABLE gift_kinds (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    price     BIGINT NOT NULL CHECK (price >= 0),
    animation TEXT NOT NULL
);

CREATE TABLE wallets (
    user_id       TEXT PRIMARY KEY,
    balance       BIGINT NOT NULL CHECK (balance >= 0),
    updated_at_ms BIGINT NOT NULL
);

-- The primary key is the idempotency guard: a sender's key is committed at most once.
-- `sender_balance_after` lets a replay return exactly the first outcome.
CREATE TABLE gifts (
    sender_id            TEXT NOT NULL,
    idempotency_key      TEXT NOT NULL,
    room                 TEXT NOT NULL,
    host_id              TEXT NOT NULL,
    gift_id              TEXT NOT NULL,
    count                BIGINT NOT NULL,
    value                BIGINT NOT NULL,
    at_ms                BIGINT NOT NULL,
    sender_balance_after BIGINT NOT NULL,
    PRIMARY KEY (sender_id, idempotency_key)
);

CREATE INDEX gifts_by_time ON gifts (at_ms, sender_id, idempotency_key);
CREATE INDEX gifts_by_room_time ON gifts (room, at_ms, sender_id, idempotency_key);
CREATE INDEX gifts_by_host_time ON gifts (host_id, at_ms);
