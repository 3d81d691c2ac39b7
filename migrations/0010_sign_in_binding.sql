-- A sign-in belongs to the browser that started it: `/auth/start` sets a
-- cookie whose SHA-256 is kept with the flow, and `/auth/callback` refuses
-- a callback that does not carry it (a forwarded Entra authorize URL).
ALTER TABLE auth_flows ADD COLUMN browser_hash TEXT NOT NULL DEFAULT '';

-- Version of the associated data a refresh token is sealed with: 1 bound
-- tenant and Entra user only; 2 binds the chat identity too (platform,
-- workspace, chat user), so a sealed token copied onto another chat row
-- does not open. Rows of version 1 are re-sealed at start-up.
ALTER TABLE links ADD COLUMN aad_version INTEGER NOT NULL DEFAULT 1;

CREATE INDEX link_tokens_by_expiry ON link_tokens (expires_at);
CREATE INDEX auth_flows_by_expiry ON auth_flows (expires_at);
