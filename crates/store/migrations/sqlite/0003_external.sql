-- Linked external services (spec api-accounts §11, defects D2, D22).

-- Single-use anti-forgery values of the OAuth flows: the SHA-256 of a random
-- `state` (Spotify, Google Books) or of a TMDB request token, bound to the
-- user who asked for it and to one service, valid a few minutes.
CREATE TABLE external_oauth_state (
    state_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    service_name VARCHAR(45) NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_external_oauth_state_expires ON external_oauth_state (expires_at);

-- One row per background import: when it ran and how it ended.
CREATE TABLE external_import (
    import_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    service_name VARCHAR(45) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    outcome TEXT,
    items_created INTEGER NOT NULL DEFAULT 0,
    interactions_written INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_external_import_user ON external_import (user_id, service_name, import_id);
