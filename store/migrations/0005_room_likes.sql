-- The like total of each room, written by its home relay once per like flush (at most every
-- `chat.like_interval`) and restored when the room reopens. Writes keep the larger total, so a
-- retried or late write never lowers it.
CREATE TABLE room_likes (
    room          TEXT PRIMARY KEY,
    total         BIGINT NOT NULL CHECK (total >= 0),
    updated_at_ms BIGINT NOT NULL
);
