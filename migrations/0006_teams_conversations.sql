-- Teams conversation references, so proactive messages survive a restart:
-- a person's 1:1 chat with the bot and the channel the bot was added to.
-- Written only from authenticated activities (or a conversation the bot
-- created itself through the Bot Connector).
CREATE TABLE teams_conversations (
    tenant_id        TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('person', 'channel')),
    subject          TEXT NOT NULL,   -- Entra object id, or 'security' for the captured channel
    service_url      TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, subject)
);
