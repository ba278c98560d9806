-- Engine runs stopped on purpose (shutdown, a sandbox timeout) are
-- recorded as `interrupted`, not as failures: the check is widened (SQLite
-- rebuilds the table to change a check).
CREATE TABLE engine_run_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    engine VARCHAR(255) NOT NULL,
    cause VARCHAR(16) NOT NULL CHECK (cause IN ('scheduled','forced','sandbox','request')),
    scope VARCHAR(32) NOT NULL,
    subjects BIGINT NOT NULL DEFAULT 0,
    rows_written BIGINT NOT NULL DEFAULT 0,
    seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    peak_memory_mib DOUBLE PRECISION,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    outcome VARCHAR(16) NOT NULL CHECK (outcome IN ('done','failed','requested','interrupted')),
    error TEXT,
    requested_by INTEGER REFERENCES "user"(user_id) ON DELETE SET NULL
);
INSERT INTO engine_run_new SELECT * FROM engine_run;
DROP TABLE engine_run;
ALTER TABLE engine_run_new RENAME TO engine_run;
CREATE INDEX ix_engine_run_engine ON engine_run (engine, id);

-- The scheduler fence: each process that takes the scheduler lock bumps
-- the generation; every engine write checks, row-locked in its own
-- transaction, that it still holds the generation it started with, so a
-- scheduler that lost its lock cannot write after another took over.
-- (SQLite serves one process: the row exists for a common schema.)
CREATE TABLE engine_fence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO engine_fence (id, generation) VALUES (1, 0);
