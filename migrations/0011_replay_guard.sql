-- Inbound requests already acted on, so a captured request replayed inside
-- its validity window is ignored even after a restart, and by every replica
-- sharing the database. `digest` is the hex SHA-256 of what identifies the
-- request (a Slack signature's MAC, a Teams activity id), never the value
-- itself; `expires_at` (Unix seconds) is when the request would be refused
-- anyway (Slack: its timestamp + 300 s), after which the row may be purged.
CREATE TABLE replay_guard (
    scope       TEXT    NOT NULL CHECK (scope IN ('slack', 'teams')),
    digest      TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL,
    PRIMARY KEY (scope, digest)
);
CREATE INDEX replay_guard_expiry ON replay_guard (expires_at);
