-- RecoFinement schema (SQLite). Generated from ../postgres/0001_schema.sql
-- by spelling ids INTEGER PRIMARY KEY AUTOINCREMENT and integers INTEGER.
-- Keep the two files in step.

CREATE TABLE role (
    role_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(45) UNIQUE
);
CREATE TABLE permission (
    permission VARCHAR(45) PRIMARY KEY
);
CREATE TABLE role_permission (
    role_id INTEGER NOT NULL REFERENCES role(role_id),
    permission VARCHAR(45) NOT NULL REFERENCES permission(permission),
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE "user" (
    user_id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    email VARCHAR(255) UNIQUE,
    username VARCHAR(45) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    preferences_defined BOOLEAN NOT NULL DEFAULT FALSE,
    -- Bumped on password reset/change: tokens issued before carry an older
    -- version and are refused, which revokes every other session at once.
    token_version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_user_username_lower ON "user" (lower(username));

CREATE TABLE user_role (
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES role(role_id),
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE revoked_token (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    jti VARCHAR(255) NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_revoked_token_expires ON revoked_token (expires_at);

-- Password-reset secrets: only the SHA-256 of the token is stored; single use.
CREATE TABLE password_reset (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

-- Login throttling shared by every instance on the same database.
CREATE TABLE login_attempt (
    bucket TEXT PRIMARY KEY,
    window_start TIMESTAMP NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE "group" (
    group_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(45) NOT NULL,
    owner_id INTEGER REFERENCES "user"(user_id) ON DELETE CASCADE
);
CREATE TABLE group_members (
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES "group"(group_id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE TABLE invitations (
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES "group"(group_id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

CREATE TABLE profile (
    profile_id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    profilename VARCHAR(45) NOT NULL,
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    UNIQUE (user_id, profilename)
);

CREATE TABLE external_service (
    service_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    service_name VARCHAR(45) NOT NULL,
    access_token TEXT,
    refresh_token TEXT,
    CONSTRAINT "unique_userID_serviceName" UNIQUE (user_id, service_name)
);

-- Catalogue: one content row + one media row. content_type is ours (the
-- original derives it from which media table holds the id).
CREATE TABLE content (
    content_id INTEGER PRIMARY KEY AUTOINCREMENT,
    rating REAL,
    rating_count INTEGER DEFAULT 0,
    popularity_score REAL,
    content_type VARCHAR(16) CHECK (content_type IN ('APPLICATION','BOOK','GAME','MOVIE','SERIE','TRACK','EPISODE'))
);
CREATE INDEX ix_content_type_popular ON content (content_type, popularity_score DESC, rating_count DESC, content_id);

CREATE TABLE application (
    content_id INTEGER PRIMARY KEY REFERENCES content(content_id) ON DELETE CASCADE,
    name VARCHAR(255) UNIQUE,
    size VARCHAR(255),
    installs VARCHAR(255),
    type VARCHAR(45),
    price VARCHAR(45),
    content_rating VARCHAR(255),
    last_updated VARCHAR(255),
    current_version VARCHAR(255),
    android_version VARCHAR(255),
    cover TEXT
);
CREATE TABLE book (
    content_id INTEGER PRIMARY KEY REFERENCES content(content_id) ON DELETE CASCADE,
    isbn VARCHAR(13) NOT NULL UNIQUE,
    title VARCHAR(255),
    author VARCHAR(255),
    year_of_publication INTEGER,
    publisher VARCHAR(255),
    image_url_s TEXT,
    image_url_m TEXT,
    image_url_l TEXT
);
CREATE TABLE game (
    content_id INTEGER PRIMARY KEY REFERENCES content(content_id) ON DELETE CASCADE,
    steamid INTEGER,
    name VARCHAR(255),
    short_description TEXT,
    header_image VARCHAR(255),
    website VARCHAR(255),
    developers VARCHAR(255),
    publishers VARCHAR(255),
    price VARCHAR(255),
    recommendations INTEGER,
    release_date VARCHAR(255)
);
CREATE TABLE movie (
    content_id INTEGER PRIMARY KEY REFERENCES content(content_id) ON DELETE CASCADE,
    title VARCHAR(255),
    language VARCHAR(255),
    actors TEXT,
    year VARCHAR(255),
    producers TEXT,
    director TEXT,
    writer TEXT,
    imdbid VARCHAR(255),
    tmdbid VARCHAR(255),
    cover TEXT,
    plot_outline TEXT
);
CREATE TABLE serie (
    content_id INTEGER PRIMARY KEY REFERENCES content(content_id) ON DELETE CASCADE,
    imdbid VARCHAR(255),
    title VARCHAR(255),
    start_year INTEGER,
    end_year INTEGER,
    writers TEXT,
    directors TEXT,
    actors TEXT,
    cover TEXT,
    plot_outline TEXT
);
CREATE TABLE episode (
    content_id INTEGER PRIMARY KEY REFERENCES content(content_id) ON DELETE CASCADE,
    imdbid VARCHAR(255),
    title VARCHAR(512),
    year INTEGER,
    season_number INTEGER,
    episode_number INTEGER,
    serie_id INTEGER REFERENCES serie(content_id) ON DELETE CASCADE
);
CREATE INDEX ix_episode_serie ON episode (serie_id, season_number, episode_number);
CREATE TABLE track (
    content_id INTEGER PRIMARY KEY REFERENCES content(content_id) ON DELETE CASCADE,
    title VARCHAR(255),
    year INTEGER,
    artist_name VARCHAR(255),
    release VARCHAR(255),
    track_mmid VARCHAR(45),
    recording_mbid TEXT,
    spotify_id VARCHAR(45),
    covert_art_url TEXT
);
CREATE INDEX ix_track_spotify_id ON track (spotify_id);

CREATE TABLE genre (
    genre_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(45) NOT NULL,
    count INTEGER,
    content_type VARCHAR(16) CHECK (content_type IN ('APPLICATION','BOOK','GAME','MOVIE','SERIE','TRACK'))
);
CREATE INDEX ix_genre_type ON genre (content_type, genre_id);
CREATE TABLE content_genres (
    content_id INTEGER NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
    genre_id INTEGER NOT NULL REFERENCES genre(genre_id) ON DELETE CASCADE,
    PRIMARY KEY (content_id, genre_id)
);
CREATE INDEX ix_content_genres_genre ON content_genres (genre_id, content_id);
CREATE TABLE linked_genre (
    genre_id0 INTEGER NOT NULL REFERENCES genre(genre_id) ON DELETE CASCADE,
    genre_id1 INTEGER NOT NULL REFERENCES genre(genre_id) ON DELETE CASCADE,
    ratio REAL,
    PRIMARY KEY (genre_id0, genre_id1)
);
CREATE TABLE liked_genres (
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    genre_id INTEGER NOT NULL REFERENCES genre(genre_id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, genre_id)
);
CREATE TABLE liked_genres_profile (
    profile_id INTEGER NOT NULL REFERENCES profile(profile_id) ON DELETE CASCADE,
    genre_id INTEGER NOT NULL REFERENCES genre(genre_id) ON DELETE CASCADE,
    PRIMARY KEY (profile_id, genre_id)
);

CREATE TABLE similars_content (
    content_id0 INTEGER NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
    content_id1 INTEGER NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
    similarity REAL,
    content_type0 VARCHAR(16),
    content_type1 VARCHAR(16),
    PRIMARY KEY (content_id0, content_id1)
);

CREATE TABLE meta_user_content (
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    content_id INTEGER NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
    rating INTEGER CHECK (rating >= 0 AND rating <= 5),
    last_rating_date TIMESTAMP,
    review_see_count INTEGER DEFAULT 0,
    last_review_see_date TIMESTAMP,
    count INTEGER DEFAULT 0,
    last_count_increment TIMESTAMP,
    PRIMARY KEY (user_id, content_id)
);
CREATE INDEX ix_meta_user_content_content ON meta_user_content (content_id);
CREATE INDEX ix_meta_user_content_history ON meta_user_content (user_id, last_count_increment DESC);

CREATE TABLE meta_profile_content (
    profile_id INTEGER NOT NULL REFERENCES profile(profile_id) ON DELETE CASCADE,
    content_id INTEGER NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
    rating INTEGER CHECK (rating >= 0 AND rating <= 5),
    last_rating_date TIMESTAMP,
    review_see_count INTEGER DEFAULT 0,
    last_review_see_date TIMESTAMP,
    count INTEGER DEFAULT 0,
    last_count_increment TIMESTAMP,
    PRIMARY KEY (profile_id, content_id)
);

CREATE TABLE recommended_content (
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    content_id INTEGER NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
    score REAL,
    engine VARCHAR(64),
    engine_priority INTEGER,
    content_type VARCHAR(16),
    reason TEXT,
    PRIMARY KEY (user_id, content_id)
);
CREATE INDEX ix_recommended_content_list ON recommended_content (user_id, content_type, engine_priority DESC, score DESC);
CREATE TABLE recommended_content_for_group (
    group_id INTEGER NOT NULL REFERENCES "group"(group_id) ON DELETE CASCADE,
    content_id INTEGER NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
    score REAL,
    engine VARCHAR(64),
    engine_priority INTEGER,
    content_type VARCHAR(16),
    reason TEXT,
    PRIMARY KEY (group_id, content_id)
);
CREATE INDEX ix_recommended_group_list ON recommended_content_for_group (group_id, content_type, engine_priority DESC, score DESC);

CREATE TABLE bad_recommendation_content (
    user_id INTEGER NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    content_id INTEGER NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
    reason_categorie TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (user_id, content_id, reason_categorie, reason)
);

-- Proposed items (the original's seven *_additional tables): one row per
-- proposal, its media columns, genres and episodes kept as a JSON document,
-- plus who proposed it and when (DM-12).
CREATE TABLE submission (
    submission_id INTEGER PRIMARY KEY AUTOINCREMENT,
    content_type VARCHAR(16) NOT NULL,
    payload TEXT NOT NULL,
    submitted_by INTEGER REFERENCES "user"(user_id) ON DELETE SET NULL,
    submitted_at TIMESTAMP NOT NULL,
    -- The value that must stay unique per kind (application name, book isbn).
    unique_key TEXT,
    UNIQUE (content_type, unique_key)
);
CREATE INDEX ix_submission_type ON submission (content_type, submission_id);

-- The event log (the original's ten event tables in one): the id is the
-- engine's cursor, so it only ever grows.
CREATE TABLE event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    occured_at TIMESTAMP NOT NULL,
    occured_by INTEGER,
    object_id INTEGER NOT NULL,
    kind VARCHAR(16) NOT NULL CHECK (kind IN ('added','changed','deletion','meta_added')),
    model_name VARCHAR(64) NOT NULL,
    attribute_name VARCHAR(64),
    new_value TEXT,
    content_type VARCHAR(16),
    payload TEXT
);

CREATE TABLE recommendation_launched_for_profile_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    occured_at TIMESTAMP NOT NULL,
    profile_id INTEGER REFERENCES profile(profile_id) ON DELETE CASCADE,
    status VARCHAR(16) NOT NULL DEFAULT 'running'
);
CREATE TABLE recommendation_launched_liked_genre (
    event_id INTEGER NOT NULL REFERENCES recommendation_launched_for_profile_event(id) ON DELETE CASCADE,
    genre_id INTEGER NOT NULL,
    name VARCHAR(45),
    content_type VARCHAR(16),
    PRIMARY KEY (event_id, genre_id)
);
CREATE TABLE recommendation_launched_meta (
    event_id INTEGER NOT NULL REFERENCES recommendation_launched_for_profile_event(id) ON DELETE CASCADE,
    content_id INTEGER NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
    rating INTEGER,
    last_rating_date TIMESTAMP,
    review_see_count INTEGER,
    last_review_see_date TIMESTAMP,
    count INTEGER,
    last_count_increment TIMESTAMP,
    PRIMARY KEY (event_id, content_id)
);
CREATE TABLE recommendation_launched_result (
    event_id INTEGER NOT NULL REFERENCES recommendation_launched_for_profile_event(id) ON DELETE CASCADE,
    content_id INTEGER NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
    score REAL,
    engine VARCHAR(64) NOT NULL,
    PRIMARY KEY (event_id, content_id, engine)
);

-- Engine bookkeeping: last run and the event cursor it consumed up to.
CREATE TABLE engine (
    engine VARCHAR(64) NOT NULL,
    last_launch_date TIMESTAMP,
    content_type VARCHAR(16) NOT NULL,
    last_event_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (engine, content_type)
);

-- Seed: the two roles and nine permissions of the spec (idempotent).
INSERT INTO role (role_id, name) VALUES (1, 'user'), (2, 'admin') ON CONFLICT DO NOTHING;
INSERT INTO permission (permission) VALUES
    ('indicate_interest'), ('modify_user_profil'), ('view_recommendation'), ('play_music'), ('add_content'),
    ('access_sandbox'), ('modify_content'), ('validate_added_content'), ('delete_content')
    ON CONFLICT DO NOTHING;
INSERT INTO role_permission (role_id, permission) VALUES
    (1, 'indicate_interest'), (1, 'modify_user_profil'), (1, 'view_recommendation'), (1, 'play_music'), (1, 'add_content'),
    (2, 'indicate_interest'), (2, 'modify_user_profil'), (2, 'view_recommendation'), (2, 'play_music'), (2, 'add_content'),
    (2, 'access_sandbox'), (2, 'modify_content'), (2, 'validate_added_content'), (2, 'delete_content')
    ON CONFLICT DO NOTHING;

-- Installation settings generated once and shared by every instance, such as
-- the JWT secret when none is configured.
CREATE TABLE app_setting (
    name VARCHAR(64) PRIMARY KEY,
    value TEXT NOT NULL
);
