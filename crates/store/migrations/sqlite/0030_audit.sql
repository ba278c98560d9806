-- The trail of administrative actions (issue 11): who did what, when.
-- No foreign key on the actor: the trail outlives the accounts it names.
CREATE TABLE audit (
    audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at TIMESTAMP NOT NULL,
    actor_id INTEGER,
    actor_uuid VARCHAR(36),
    action VARCHAR(64) NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
