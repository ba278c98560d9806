-- The engine's cursor becomes an exclusive bound on an event's position.
-- On PostgreSQL an event's position is the id of the transaction that wrote
-- it: ids come from a sequence, so a transaction that took id 41 may commit
-- after one that took 42, and a cursor over ids would skip 41. Every
-- transaction below pg_snapshot_xmin(pg_current_snapshot()) has ended, so
-- the events positioned below it are final: a run consumes exactly those.
ALTER TABLE event ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event ALTER COLUMN position SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX ix_event_position ON event (position);
ALTER TABLE engine RENAME COLUMN last_event_id TO consumed_before;
-- Events written before this migration have position 0: consume them again
-- (one full recomputation) rather than guess which were consumed.
UPDATE engine SET consumed_before = 0;
