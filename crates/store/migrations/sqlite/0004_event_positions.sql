-- The engine's cursor becomes an exclusive bound on an event's position.
-- SQLite has one writer at a time, so ids are committed in order and an
-- event's position is its id; the cursor moves from "last id consumed" to
-- "first id not consumed".
ALTER TABLE engine RENAME COLUMN last_event_id TO consumed_before;
UPDATE engine SET consumed_before = consumed_before + 1;
