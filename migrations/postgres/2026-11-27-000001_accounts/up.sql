-- Areas form a tree; `path` is the materialized path of ids ("/root/town/grid/") so that
-- "is X at or below Y" is a prefix test and a scope filter is one index range scan.
CREATE TABLE areas (
    id          TEXT PRIMARY KEY NOT NULL,
    parent_id   TEXT REFERENCES areas(id),
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    path        TEXT COLLATE "C" NOT NULL UNIQUE,
    depth       INTEGER NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX areas_parent ON areas(parent_id);

CREATE TABLE teams (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    area_id     TEXT NOT NULL REFERENCES areas(id),
    area_path   TEXT COLLATE "C" NOT NULL,
    categories  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX teams_area_path ON teams(area_path);

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    area_id       TEXT NOT NULL REFERENCES areas(id),
    area_path     TEXT COLLATE "C" NOT NULL,
    team_id       TEXT REFERENCES teams(id),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX users_area_path ON users(area_path);

CREATE TABLE devices (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id),
    area_path      TEXT COLLATE "C" NOT NULL,
    name           TEXT,
    app_version    TEXT,
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX devices_area_path ON devices(area_path);

-- One login on one device. Access tokens name their session, so ending it ends them.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id),
    device_id     TEXT NOT NULL REFERENCES devices(id),
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoke_reason TEXT
);
CREATE INDEX sessions_device ON sessions(device_id);

-- Only a SHA-256 of each refresh token is kept; a used one stays to detect reuse.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE audit_log (
    id             BIGSERIAL PRIMARY KEY,
    at             BIGINT NOT NULL,
    action         TEXT NOT NULL,
    actor_user_id  TEXT,
    actor_username TEXT,
    device_id      TEXT,
    client_addr    TEXT,
    target_type    TEXT,
    target_id      TEXT,
    area_path      TEXT COLLATE "C" NOT NULL,
    detail         TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);
