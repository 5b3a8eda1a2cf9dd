-- One row per stream, region and sample time (the control plane samples every 10 s).
CREATE TABLE stream_stats (
    stream        TEXT NOT NULL,
    region        TEXT NOT NULL,
    at_ms         BIGINT NOT NULL,
    viewers       BIGINT NOT NULL,
    chat_messages BIGINT NOT NULL,
    likes         BIGINT NOT NULL,
    gift_value    BIGINT NOT NULL,
    PRIMARY KEY (stream, at_ms, region)
);
