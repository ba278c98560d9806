//! A user cannot make the engines work for them without bound (issue 11,
//! item 7): views do not count toward retrains, retrains are spaced, and
//! interest changes wake the scheduler once per user per interval.

use std::time::Duration;

use recofinement::engine_runner::{EngineRunner, RunLimits};
use recofinement_engine::EngineName;
use recofinement_store::backend_test;
use recofinement_store::engine_io::EventRange;
use recofinement_store::interactions::MetaPatch;
use recofinement_store::testing::TestDb;

/// Every event there is.
const EVERY_EVENT: EventRange = EventRange {
    from: 0,
    before: i64::MAX,
};

/// One user and one movie; returns (user id, movie id).
async fn one_of_each(t: &TestDb) -> (i64, i64) {
    t.sql(
        "INSERT INTO content (content_id, rating, rating_count, content_type) VALUES (7, 3.0, 1, 'MOVIE');
         INSERT INTO movie (content_id, title) VALUES (7, 'Some film');",
    )
    .await;
    let user =
        t.db.create_user("viewer@example.com", "viewer", "$2b$04$x", "user")
            .await
            .unwrap();
    (user.user_id, 7)
}

backend_test!(views_do_not_count_toward_retrains, |t| {
    let (user, movie) = one_of_each(&t).await;
    let before = t.db.interaction_events_in(EVERY_EVENT).await.unwrap();
    for _ in 0..50 {
        t.db.view_item(user, movie, recofinement_domain::ContentKind::Movie)
            .await
            .unwrap();
    }
    let viewed = t.db.interaction_events_in(EVERY_EVENT).await.unwrap();
    // The first view creates the interaction; repeating it adds nothing.
    assert!(viewed - before <= 1, "{before} -> {viewed}");
    let rating = MetaPatch {
        rating: Some(4),
        additional_count: None,
    };
    t.db.patch_item(user, movie, recofinement_domain::ContentKind::Movie, rating)
        .await
        .unwrap();
    assert!(t.db.interaction_events_in(EVERY_EVENT).await.unwrap() > viewed);
});

backend_test!(retrains_wait_for_the_minimum_interval, |t| {
    let (user, movie) = one_of_each(&t).await;
    let cf = [EngineName::CollaborativeFiltering];
    let spaced = EngineRunner::new(t.db.clone(), 1)
        .unwrap()
        .with_cf_min_interval(Duration::from_secs(3600));
    // A first run always happens.
    assert_eq!(spaced.run(&cf, false).await.unwrap().len(), 1);
    for rating in 0..5 {
        let patch = MetaPatch {
            rating: Some(rating % 5 + 1),
            additional_count: Some(1),
        };
        t.db.patch_item(user, movie, recofinement_domain::ContentKind::Movie, patch)
            .await
            .unwrap();
    }
    // New content makes the engine due, but not before the interval.
    t.sql(
        "INSERT INTO content (content_id, rating, rating_count, content_type) VALUES (8, 3.0, 1, 'MOVIE');
         INSERT INTO movie (content_id, title) VALUES (8, 'Another film');
         INSERT INTO event (occured_at, kind, model_name, object_id, content_type) VALUES ('2026-01-01 00:00:00', 'added', 'content', 8, 'MOVIE');",
    )
    .await;
    assert!(spaced.run(&cf, false).await.unwrap().is_empty());
    t.settle_events().await;
    let eager = EngineRunner::new(t.db.clone(), 1)
        .unwrap()
        .with_cf_min_interval(Duration::ZERO);
    assert_eq!(eager.run(&cf, false).await.unwrap().len(), 1);
});

#[test]
fn interest_changes_wake_the_scheduler_once_per_user_and_interval() {
    let limits = RunLimits::default();
    assert!(limits.first_wake_in_interval(1));
    for _ in 0..100 {
        assert!(!limits.first_wake_in_interval(1));
    }
    assert!(limits.first_wake_in_interval(2), "another user");
}
