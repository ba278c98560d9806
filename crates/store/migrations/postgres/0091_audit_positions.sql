-- The audit trail is read like the event log: by position below the final
-- bound, not by id (see 0004_event_positions.sql). Entries written before
-- this migration are final: position 0, read in id order.
ALTER TABLE audit ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit ALTER COLUMN position SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX ix_audit_position ON audit (position);
