//! Tables do not grow forever: the purge deletes consumed, old events (and
//! keeps what an engine has not consumed), expired OAuth states and old
//! finished import records, on both databases.

use std::time::Duration;

use recofinement::engine_runner::{ALL_ENGINES, EngineRunner};
use recofinement_store::backend_test;
use recofinement_store::retention::Retention;

const THIRTY_DAYS: Retention = Retention {
    keep: Duration::from_secs(30 * 86_400),
    throttle_window: Duration::from_secs(900),
    sandbox_timeout: Duration::from_secs(300),
};

/// A new account named `name`; its id.
async fn account(t: &recofinement_store::testing::TestDb, name: &str) -> i64 {
    let email = format!("{name}@example.com");
    let user =
        t.db.create_user(&email, name, "hash", "user")
            .await
            .unwrap();
    user.user_id
}

fn old_event(object_id: i64) -> String {
    format!(
        "INSERT INTO event (occured_at, object_id, kind, model_name, content_type) \
         VALUES ('2020-01-01 00:00:00', {object_id}, 'changed', 'movie', 'MOVIE');"
    )
}

backend_test!(the_purge_keeps_only_what_is_still_needed, |t| {
    let uid = account(&t, "kept").await;
    t.sql(&format!(
        "{}{}INSERT INTO event (occured_at, object_id, kind, model_name, content_type) \
         VALUES (CURRENT_TIMESTAMP, 3, 'changed', 'movie', 'MOVIE');
         INSERT INTO external_oauth_state (state_hash, user_id, service_name, expires_at) VALUES
           ('gone', {uid}, 'Spotify', '2020-01-01 00:00:00'), ('live', {uid}, 'Spotify', '2999-01-01 00:00:00');
         INSERT INTO external_import (user_id, service_name, started_at, finished_at, outcome) VALUES
           ({uid}, 'Spotify', '2020-01-01 00:00:00', '2020-01-01 00:01:00', 'ok'),
           ({uid}, 'Spotify', '2020-01-01 00:00:00', NULL, NULL);",
        old_event(1),
        old_event(2)
    ))
    .await;
    // Before any engine ran nothing is consumed: no event goes.
    t.db.purge(THIRTY_DAYS).await.unwrap();
    assert_eq!(t.count("event").await, 3);
    t.settle_events().await;
    let runner = EngineRunner::new(t.db.clone(), 1).unwrap();
    runner.run(&ALL_ENGINES, true).await.unwrap();
    // An old event that no engine has consumed yet stays.
    t.sql(&old_event(4)).await;
    let report = t.db.purge(THIRTY_DAYS).await.unwrap();
    assert_eq!(report.events, 2, "{report:?}");
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM event WHERE object_id IN (3, 4)")
            .await,
        2
    );
    assert_eq!(
        t.text("SELECT state_hash FROM external_oauth_state")
            .await
            .as_deref(),
        Some("live")
    );
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM external_import WHERE finished_at IS NULL")
            .await,
        1
    );
    assert_eq!(t.count("external_import").await, 1);
});

backend_test!(runs_a_stop_left_running_are_marked_interrupted, |t| {
    let user = account(&t, "sandbox").await;
    let profile = t.db.create_profile(user, "left").await.unwrap();
    let run = t.db.snapshot_profile(profile.profile_id).await.unwrap();
    let status =
        format!("SELECT status FROM recommendation_launched_for_profile_event WHERE id = {run}");
    // A run younger than the cutoff may still be computing elsewhere.
    let long_ago = recofinement_store::naive_utc(std::time::UNIX_EPOCH);
    assert_eq!(t.db.interrupt_stale_runs(long_ago).await.unwrap(), 0);
    assert_eq!(t.text(&status).await.as_deref(), Some("running"));
    // A stop and a quick restart: the start's cutoff spared it, the
    // hourly purge marks it once it is older than the sandbox timeout.
    assert_eq!(t.db.purge(THIRTY_DAYS).await.unwrap().interrupted_runs, 0);
    t.sql(&format!(
        "UPDATE recommendation_launched_for_profile_event \
         SET occured_at = '2020-01-01 00:00:00' WHERE id = {run}"
    ))
    .await;
    assert_eq!(t.db.purge(THIRTY_DAYS).await.unwrap().interrupted_runs, 1);
    assert_eq!(t.text(&status).await.as_deref(), Some("interrupted"));
});

// Expired revocations and reset secrets go, more than one batch of them,
// and what still counts stays.
backend_test!(expired_revocations_and_reset_secrets_go_in_batches, |t| {
    let uid = account(&t, "reset").await;
    t.sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) \
         INSERT INTO revoked_token (jti, expires_at) SELECT 'old-' || i, '2020-01-01 00:00:00' FROM n; \
         INSERT INTO revoked_token (jti, expires_at) VALUES ('live', '2999-01-01 00:00:00'); \
         INSERT INTO password_reset (token_hash, user_id, expires_at) VALUES \
         ('old', {uid}, '2020-01-01 00:00:00'), ('live', {uid}, '2999-01-01 00:00:00');"
    ))
    .await;
    let report = t.db.purge(THIRTY_DAYS).await.unwrap();
    assert_eq!(report.expired, 1501);
    assert_eq!(t.count("revoked_token").await, 1);
    assert_eq!(t.count("password_reset").await, 1);
});
