-- Lookups by a foreign key that scanned a whole table: a user's read
-- (GET /api/user/{uuid}) looked for the groups they own in every group, a
-- group's members and invitations were found by scanning every membership,
-- a profile's run history by scanning every run, and deleting an account or
-- a group scanned the tables its deletion cascades to. The columns still
-- without an index are listed, each with its reason, by the test
-- `foreign_keys_have_an_index_unless_said_otherwise`.
CREATE INDEX ix_group_owner ON "group" (owner_id);
CREATE INDEX ix_group_members_group ON group_members (group_id);
CREATE INDEX ix_invitations_group ON invitations (group_id);
CREATE INDEX ix_profile_runs ON recommendation_launched_for_profile_event (profile_id, occured_at, id);
-- The sandbox's limit counts the runs in progress at every launch.
CREATE INDEX ix_profile_runs_running ON recommendation_launched_for_profile_event (occured_at)
    WHERE status = 'running';
CREATE INDEX ix_password_reset_user ON password_reset (user_id);
CREATE INDEX ix_external_oauth_state_user ON external_oauth_state (user_id);
CREATE INDEX ix_submission_author ON submission (submitted_by);
CREATE INDEX ix_engine_run_requester ON engine_run (requested_by);
