-- Forced runs asked for and not yet run: any instance records the request,
-- and only the scheduler (the instance holding the engine lock, under its
-- fence) runs it, so a forced run never races the scheduled ones.
CREATE TABLE engine_forced_run (
    engine VARCHAR(64) PRIMARY KEY,
    requested_at TIMESTAMP NOT NULL
);
