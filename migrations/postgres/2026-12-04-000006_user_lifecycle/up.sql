-- A user can be deactivated (a season's volunteers go home) without losing who did what.
ALTER TABLE users ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;

-- The refresh retry after a lost answer: each pair names the refresh token whose use produced it,
-- a pair made void by a retry says when, and the first use of a pair's access token is recorded
-- (a used pair cannot be replaced by a retry).
ALTER TABLE refresh_tokens ADD COLUMN parent_hash TEXT;
ALTER TABLE refresh_tokens ADD COLUMN voided_at BIGINT;
ALTER TABLE refresh_tokens ADD COLUMN access_used_at BIGINT;
CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent_hash);
