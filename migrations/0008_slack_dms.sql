-- The bot's Slack DM channel (`D…`) with each person, as `conversations.open`
-- returned it: kept so a restarted bot does not open every DM again
-- (`conversations.open` is Tier 3, 50 a minute per workspace).
CREATE TABLE slack_dms (
    team_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
