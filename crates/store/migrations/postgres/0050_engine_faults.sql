-- Engine runs stopped on purpose (shutdown, a sandbox timeout) are
-- recorded as `interrupted`, not as failures.
ALTER TABLE engine_run DROP CONSTRAINT engine_run_outcome_check;
ALTER TABLE engine_run ADD CONSTRAINT engine_run_outcome_check
    CHECK (outcome IN ('done','failed','requested','interrupted'));

-- The scheduler fence: each process that takes the scheduler lock bumps
-- the generation; every engine write checks, row-locked in its own
-- transaction, that it still holds the generation it started with, so a
-- scheduler that lost its lock cannot write after another took over.
CREATE TABLE engine_fence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO engine_fence (id, generation) VALUES (1, 0);
