-- The chat log: one row per sequenced room message, appended in batches by the home relay.
-- `deleted` is 0 or 1 (BIGINT, since the Any driver has no portable boolean column).
CREATE TABLE chat_messages (
    room          TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    body          TEXT NOT NULL,
    client_msg_id TEXT,
    at_ms         BIGINT NOT NULL,
    deleted       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (room, seq)
);

-- Keyset pagination runs in (at_ms, room, seq) order; one index per filter shape.
CREATE INDEX chat_messages_by_time ON chat_messages (at_ms, room, seq);
CREATE INDEX chat_messages_by_room_time ON chat_messages (room, at_ms, seq);
CREATE INDEX chat_messages_by_user ON chat_messages (user_id, at_ms, room, seq);
