-- Graph change-notification subscriptions stagegate keeps alive, one per
-- watched (privileged) group.
CREATE TABLE intake_subscriptions (
    group_id           TEXT PRIMARY KEY,         -- the watched group's object id
    subscription_id    TEXT NOT NULL UNIQUE,     -- Graph's subscription id
    expires_at         TEXT NOT NULL,            -- expirationDateTime as Graph last confirmed it
    client_state_hash  TEXT NOT NULL,            -- SHA-256 (hex) of the clientState it was created with
    notification_url   TEXT NOT NULL,            -- where Graph delivers; a new public URL means recreate
    created_at         TEXT NOT NULL,
    renewed_at         TEXT
);
