DROP INDEX refresh_tokens_parent;
ALTER TABLE refresh_tokens DROP COLUMN access_used_at;
ALTER TABLE refresh_tokens DROP COLUMN voided_at;
ALTER TABLE refresh_tokens DROP COLUMN parent_hash;
ALTER TABLE users DROP COLUMN active;
