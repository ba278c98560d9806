-- Engine history: one row per engine run (scheduled, forced, sandbox), one
-- per run request from the dashboard (who asked: the audit trail), and the
-- stored offline evaluations with their parameters.
CREATE TABLE engine_run (
    id BIGSERIAL PRIMARY KEY,
    -- An engine name; for a request, the engines asked for (comma separated).
    engine VARCHAR(255) NOT NULL,
    cause VARCHAR(16) NOT NULL CHECK (cause IN ('scheduled','forced','sandbox','request')),
    scope VARCHAR(32) NOT NULL,
    subjects BIGINT NOT NULL DEFAULT 0,
    rows_written BIGINT NOT NULL DEFAULT 0,
    seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    peak_memory_mib DOUBLE PRECISION,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    outcome VARCHAR(16) NOT NULL CHECK (outcome IN ('done','failed','requested')),
    error TEXT,
    requested_by BIGINT REFERENCES "user"(user_id) ON DELETE SET NULL
);
CREATE INDEX ix_engine_run_engine ON engine_run (engine, id);

CREATE TABLE engine_evaluation (
    id BIGSERIAL PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    seed BIGINT NOT NULL,
    scale VARCHAR(8) NOT NULL,
    parameters TEXT NOT NULL,
    report TEXT NOT NULL
);
