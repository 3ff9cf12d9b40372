-- Users, their refresh tokens and API keys (services/common/auth/store.py), and the owner of
-- each backtest job. Only hashes are stored: argon2id for passwords, SHA-256 for refresh
-- tokens and API keys (256 random bits each, nothing to brute-force).
CREATE TABLE users (
    name          text PRIMARY KEY,
    password_hash text NOT NULL,
    admin         boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Each refresh token is used once: refreshing spends it and issues a new one.
CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,
    username   text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (username);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    owner        text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name         text NOT NULL,
    key_hash     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_owner ON api_keys (owner, created_at DESC);

-- Jobs created before auth belong to the local admin (the laptop stack's only user).
ALTER TABLE jobs ADD COLUMN owner text NOT NULL DEFAULT 'local';
CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
