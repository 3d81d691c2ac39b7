-- When the linked person last completed multifactor authentication, as
-- Entra reported it at sign-in (`auth_time` of a token whose `amr` holds
-- `mfa`). Packages can demand a recent one before a decision is relayed.
ALTER TABLE links ADD COLUMN mfa_at TEXT;
