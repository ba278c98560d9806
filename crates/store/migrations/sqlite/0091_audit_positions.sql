-- The audit trail is read like the event log (see the PostgreSQL
-- migration of the same name). SQLite's single writer commits ids in
-- order, so an entry's position is its id: nothing to add.
SELECT 1;
