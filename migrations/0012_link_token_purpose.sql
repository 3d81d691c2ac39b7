-- One live sign-in link per person and purpose (docs/security.md, "Floods"):
-- `purpose` names what the link's sign-in continues (a decision on one
-- stage, one activation, a command); a second click for the same purpose
-- while the link is unused and unexpired reuses it, replacing `resume`, and
-- counts in `reuses` instead of minting a token and writing an audit row.
-- NULL purpose: a link asked for explicitly (`link`), never reused.
ALTER TABLE link_tokens ADD COLUMN purpose TEXT;
ALTER TABLE link_tokens ADD COLUMN reuses INTEGER NOT NULL DEFAULT 0;
CREATE INDEX link_tokens_by_purpose
    ON link_tokens (platform, workspace, chat_user, purpose)
    WHERE used_at IS NULL AND purpose IS NOT NULL;
