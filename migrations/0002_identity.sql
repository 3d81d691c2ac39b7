-- Account links: a chat identity acting in Graph as an Entra user.
CREATE TABLE links (
    platform       TEXT NOT NULL,             -- 'teams' | 'slack'
    workspace      TEXT NOT NULL,             -- Entra tenant id (Teams) or Slack team id
    chat_user      TEXT NOT NULL,             -- aadObjectId (Teams) or Slack user id
    object_id      TEXT NOT NULL,             -- the Entra user it acts as
    display_name   TEXT NOT NULL,
    refresh_token  BLOB NOT NULL,             -- sealed by the vault (key id ‖ nonce ‖ ciphertext)
    key_id         TEXT NOT NULL,             -- key that sealed it, for re-encryption
    linked_at      TEXT NOT NULL,
    refreshed_at   TEXT NOT NULL,
    PRIMARY KEY (platform, workspace, chat_user)
);
CREATE INDEX links_by_object ON links (object_id);

-- Single-use, short-lived link tokens carried by sign-in links. Only the
-- SHA-256 of the token is stored.
CREATE TABLE link_tokens (
    token_hash     TEXT PRIMARY KEY,
    platform       TEXT NOT NULL,
    workspace      TEXT NOT NULL,
    chat_user      TEXT NOT NULL,
    claims         TEXT,                      -- claims request for step-up, if any
    resume         TEXT,                      -- what to continue after sign-in (JSON)
    expires_at     TEXT NOT NULL,
    used_at        TEXT
);

-- Authorization-code flows in progress, keyed by the SHA-256 of `state`.
CREATE TABLE auth_flows (
    state_hash     TEXT PRIMARY KEY,
    platform       TEXT NOT NULL,
    workspace      TEXT NOT NULL,
    chat_user      TEXT NOT NULL,
    code_verifier  BLOB NOT NULL,             -- sealed by the vault
    nonce          TEXT NOT NULL,
    claims         TEXT,
    resume         TEXT,
    expires_at     TEXT NOT NULL,
    used_at        TEXT
);
