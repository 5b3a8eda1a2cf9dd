-- Streams and their publish keys. Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Times are Unix milliseconds supplied by the caller (BIGINT), ids are caller-supplied TEXT.
CREATE TABLE streams (
    name          TEXT PRIMARY KEY,
    created_at_ms BIGINT NOT NULL
);

-- Only the SHA-256 hex of a key is stored; the plaintext never reaches the database.
CREATE TABLE stream_keys (
    id            TEXT PRIMARY KEY,
    stream        TEXT NOT NULL REFERENCES streams (name) ON DELETE CASCADE,
    key_hash      TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);

CREATE INDEX stream_keys_by_stream ON stream_keys (stream);

-- Publish-time lookup, and at most one active key per hash.
CREATE UNIQUE INDEX stream_keys_active_hash ON stream_keys (key_hash) WHERE revoked_at_ms IS NULL;
