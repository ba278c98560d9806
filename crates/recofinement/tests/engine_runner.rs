//! The engine runner against a real database: full runs fill every output
//! table, incremental runs only touch the users with new events and give
//! what a full run gives them, and sandbox runs store their results.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use recofinement::engine_runner::{ALL_ENGINES, EngineBridge, EngineRunner};
use recofinement_engine::{ContentKind, EngineName};
use recofinement_store::interactions::MetaPatch;
use recofinement_store::testing::{Backend, TestDb};
use recofinement_store::{Db, backend_test};

const MOVIES: i64 = 30;
const USERS: i64 = 20;

/// 30 movies in two genres (even ids Action, odd ids Drama), 20 users:
/// users 1–10 watched Action movies, 11–20 Drama ones.
async fn catalogue(t: &TestDb) {
    let mut sql = String::from(
        "INSERT INTO genre (genre_id, name, count, content_type) VALUES (1, 'Action', 10, 'MOVIE'), (2, 'Drama', 10, 'MOVIE');",
    );
    let words = [
        "storm", "river", "night", "empire", "garden", "shadow", "golden", "winter", "ocean",
        "fire",
    ];
    for id in 1..=MOVIES {
        let genre = if id % 2 == 0 { 1 } else { 2 };
        let title = format!(
            "{} {} {id}",
            words[(id % 10) as usize],
            if genre == 1 { "battle" } else { "tears" }
        );
        let actor = if genre == 1 {
            "Jet Li|Bruce Willis"
        } else {
            "Meryl Streep|Emma Stone"
        };
        sql.push_str(&format!(
            "INSERT INTO content (content_id, rating, rating_count, content_type) VALUES ({id}, 4.0, {id}, 'MOVIE');
             INSERT INTO movie (content_id, title, actors) VALUES ({id}, '{title}', '{actor}');
             INSERT INTO content_genres (content_id, genre_id) VALUES ({id}, {genre});"
        ));
    }
    for user in 1..=USERS {
        sql.push_str(&format!(
            "INSERT INTO \"user\" (user_id, uuid, email, username, password_hash) \
             VALUES ({user}, '{}', 'u{user}@example.com', 'user{user}', 'hash');",
            uuid::Uuid::new_v4()
        ));
        let parity = if user <= 10 { 0 } else { 1 };
        for k in 0..6 {
            let movie = ((user * 3 + k * 2) % (MOVIES - 2)) / 2 * 2 + 2 - parity;
            sql.push_str(&format!(
                "INSERT INTO meta_user_content (user_id, content_id, rating, review_see_count, count) \
                 VALUES ({user}, {movie}, 5, 1, 1) ON CONFLICT DO NOTHING;"
            ));
        }
    }
    t.sql(&sql).await;
    if t.backend == Backend::Postgres {
        // Explicit ids above: move the sequences past them.
        t.sql(
            "SELECT setval(pg_get_serial_sequence('\"user\"', 'user_id'), 1000); \
               SELECT setval(pg_get_serial_sequence('content', 'content_id'), 1000);",
        )
        .await;
    }
}

async fn rows_of(t: &TestDb, user: i64, engine: &str) -> Vec<(i64, String)> {
    rows_with(&t.db, user, engine).await
}

async fn rows_with(db: &Db, user: i64, engine: &str) -> Vec<(i64, String)> {
    let sql = format!(
        "SELECT content_id, CAST(score AS TEXT) FROM recommended_content WHERE user_id = {user} AND engine = '{engine}' ORDER BY content_id"
    );
    let sql = sqlx::AssertSqlSafe(sql);
    recofinement_store::on_db!(db, pool => sqlx::query_as::<_, (i64, String)>(sql).fetch_all(pool).await.unwrap())
}

backend_test!(a_full_run_fills_every_output, |t| {
    catalogue(&t).await;
    let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
    t.settle_events().await;
    let reports = runner.run(&ALL_ENGINES, false).await.unwrap();
    let ran: Vec<&str> = reports.iter().map(|r| r.engine).collect();
    assert_eq!(ran.len(), 6, "a first run runs every engine: {ran:?}");
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM content WHERE popularity_score IS NULL")
            .await,
        0
    );
    assert!(
        t.scalar("SELECT COUNT(*) FROM similars_content WHERE content_type0 = content_type1")
            .await
            > 0
    );
    for engine in ["FromProfile", "CollaborativeFiltering"] {
        let users = t
            .scalar(&format!(
                "SELECT COUNT(DISTINCT user_id) FROM recommended_content WHERE engine = '{engine}'"
            ))
            .await;
        assert!(users > 0, "{engine} recommended nothing");
    }
    // Nobody is recommended what they already watched.
    let consumed = t
        .scalar("SELECT COUNT(*) FROM recommended_content r JOIN meta_user_content m ON m.user_id = r.user_id AND m.content_id = r.content_id")
        .await;
    assert_eq!(consumed, 0);
    // Action watchers get Action movies from their profile.
    let action = t
        .scalar("SELECT COUNT(*) FROM recommended_content WHERE user_id <= 10 AND engine = 'FromProfile' AND content_id % 2 = 0")
        .await;
    let drama = t
        .scalar("SELECT COUNT(*) FROM recommended_content WHERE user_id <= 10 AND engine = 'FromProfile' AND content_id % 2 = 1")
        .await;
    assert!(action > drama, "action {action} vs drama {drama}");
    // Scores are normalised and reasons given.
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM recommended_content WHERE score < 0 OR score > 1")
            .await,
        0
    );
    assert!(
        t.scalar("SELECT COUNT(*) FROM recommended_content WHERE reason IS NOT NULL")
            .await
            > 0
    );
    // Nothing new: nothing runs.
    assert!(runner.run(&ALL_ENGINES, false).await.unwrap().is_empty());
});

backend_test!(incremental_runs_equal_a_full_recomputation, |t| {
    catalogue(&t).await;
    let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
    runner.run(&ALL_ENGINES, true).await.unwrap();
    let before_other = rows_of(&t, 12, "FromProfile").await;
    // User 3 rates a Drama movie: only user 3's lists are recomputed.
    t.db.patch_item(
        3,
        7,
        recofinement_domain::ContentKind::Movie,
        MetaPatch {
            rating: Some(5),
            additional_count: None,
        },
    )
    .await
    .unwrap();
    t.settle_events().await;
    let reports = runner.run(&ALL_ENGINES, false).await.unwrap();
    let profile = reports
        .iter()
        .find(|r| r.engine == "FromProfile")
        .expect("FromProfile ran");
    assert_eq!(profile.subjects, 1);
    assert!(
        reports.iter().all(|r| r.engine != "Popularity"),
        "one rating does not rerun popularity at once"
    );
    let partial = rows_of(&t, 3, "FromProfile").await;
    assert!(
        partial.iter().all(|(id, _)| *id != 7),
        "the rated movie is not recommended any more"
    );
    assert_eq!(
        rows_of(&t, 12, "FromProfile").await,
        before_other,
        "other users untouched"
    );
    runner.run(&[EngineName::FromProfile], true).await.unwrap();
    assert_eq!(
        rows_of(&t, 3, "FromProfile").await,
        partial,
        "partial run = full run for that user"
    );
});

// A run for the users with new events reads their interactions, not the
// whole table; a training reads them all.
backend_test!(a_run_for_one_user_loads_that_user_only, |t| {
    catalogue(&t).await;
    let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
    let all = t.scalar("SELECT COUNT(*) FROM meta_user_content").await;
    let (_, size) = runner.run_measured(&ALL_ENGINES, true).await.unwrap();
    assert_eq!(
        size.unwrap().interactions as i64,
        all,
        "a full run reads every one"
    );
    rate(&t, 3, 7, 5).await;
    t.settle_events().await;
    let (reports, size) = runner.run_measured(&ALL_ENGINES, false).await.unwrap();
    let ran: Vec<&str> = reports.iter().map(|r| r.engine).collect();
    assert_eq!(ran, ["FromProfile", "FromSimilarContent"]);
    let size = size.unwrap();
    let mine = t
        .scalar("SELECT COUNT(*) FROM meta_user_content WHERE user_id = 3")
        .await;
    assert_eq!(size.interactions as i64, mine, "user 3's only, of {all}");
    assert_eq!(size.users, 1);
    assert_eq!(size.items as i64, MOVIES, "the catalogue is still whole");
});

backend_test!(declaring_interests_gives_a_new_user_recommendations, |t| {
    catalogue(&t).await;
    let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
    runner.run(&ALL_ENGINES, true).await.unwrap();
    let user =
        t.db.create_user("new@example.com", "newcomer", "hash", "user")
            .await
            .unwrap();
    t.db.like_genre(user.user_id, 1).await.unwrap();
    t.settle_events().await;
    runner.run(&ALL_ENGINES, false).await.unwrap();
    let rows = rows_of(&t, user.user_id, "FromProfile").await;
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|(id, _)| id % 2 == 0),
        "only Action movies: {rows:?}"
    );
});

backend_test!(sandbox_runs_store_their_results, |t| {
    catalogue(&t).await;
    let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
    runner
        .run(&[EngineName::ContentSimilarities], true)
        .await
        .unwrap();
    let profile = t.db.create_profile(1, "sandbox").await.unwrap();
    t.db.like_profile_genre(profile.profile_id, 2)
        .await
        .unwrap();
    let meta = recofinement_store::profiles::ProfileMeta {
        rating: Some(5),
        count: Some(1),
        ..Default::default()
    };
    t.db.set_profile_meta(profile.profile_id, 3, &meta)
        .await
        .unwrap();
    let run = t.db.snapshot_profile(profile.profile_id).await.unwrap();
    let stored = runner.run_profile(run).await.unwrap();
    assert!(stored > 0);
    let engines = t.scalar(&format!("SELECT COUNT(DISTINCT engine) FROM recommendation_launched_result WHERE event_id = {run}")).await;
    assert_eq!(engines, 2, "FromProfile and FromSimilarContent");
    let drama = t
        .scalar(&format!(
            "SELECT COUNT(*) FROM recommendation_launched_result WHERE event_id = {run} AND engine = 'FromProfile' AND content_id % 2 = 1"
        ))
        .await;
    assert!(drama > 0);
    let status = t.scalar(&format!("SELECT COUNT(*) FROM recommendation_launched_for_profile_event WHERE id = {run} AND status = 'done'")).await;
    assert_eq!(status, 1);
});

/// Each user's best FromProfile recommendation.
async fn top_picks(t: &TestDb, users: std::ops::RangeInclusive<i64>) -> Vec<(i64, i64)> {
    let mut picks = Vec::new();
    for user in users {
        let rows = rows_of(t, user, "FromProfile").await;
        picks.push((user, rows.first().expect("a recommendation").0));
    }
    picks
}

async fn cursor_of(t: &TestDb, engine: &str) -> i64 {
    t.scalar(&format!(
        "SELECT COALESCE(MAX(consumed_before), -1) FROM engine WHERE engine = '{engine}'"
    ))
    .await
}

async fn rate(t: &TestDb, user: i64, movie: i64, rating: i64) {
    let patch = MetaPatch {
        rating: Some(rating),
        additional_count: None,
    };
    t.db.patch_item(user, movie, recofinement_domain::ContentKind::Movie, patch)
        .await
        .unwrap();
}

/// Each user's rated movie has left their FromProfile list: the rating's
/// event was consumed.
async fn assert_rated_items_left_out(t: &TestDb, rated: &[(i64, i64)]) {
    for &(user, movie) in rated {
        let rows = rows_of(t, user, "FromProfile").await;
        assert!(
            rows.iter().all(|(id, _)| *id != movie),
            "user {user} rated {movie}, yet it is still recommended: the event was skipped"
        );
    }
}

backend_test!(events_landing_during_runs_are_never_skipped, |t| {
    catalogue(&t).await;
    let runner = std::sync::Arc::new(EngineRunner::new(t.db.clone(), 2).unwrap());
    runner.run(&ALL_ENGINES, true).await.unwrap();
    let picks = top_picks(&t, 1..=USERS).await;
    // Ratings land while runs select their subjects and load their data.
    let looping = runner.clone();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = done.clone();
    let runs = tokio::spawn(async move {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            looping
                .run(&[EngineName::FromProfile], false)
                .await
                .unwrap();
        }
    });
    for &(user, movie) in &picks {
        rate(&t, user, movie, 5).await;
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    runs.await.unwrap();
    t.settle_events().await;
    runner.run(&[EngineName::FromProfile], false).await.unwrap();
    assert_rated_items_left_out(&t, &picks).await;
});

/// The catalogue on a fresh PostgreSQL database after a full run, and the
/// top pick of users 1 and 2; `None` when PostgreSQL is not configured.
async fn trained_on_postgres(test: &str) -> Option<(TestDb, EngineRunner, Vec<(i64, i64)>)> {
    if !recofinement_store::testing::postgres_enabled(test) {
        return None;
    }
    let t = TestDb::fresh(Backend::Postgres).await;
    catalogue(&t).await;
    let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
    runner.run(&ALL_ENGINES, true).await.unwrap();
    let picks = top_picks(&t, 1..=2).await;
    Some((t, runner, picks))
}

/// On PostgreSQL ids come from a sequence: a transaction that took an event
/// id may commit after one that took a later id. Its event must still be
/// consumed once it commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committed_late_is_consumed() {
    let Some((t, runner, picks)) = trained_on_postgres(module_path!()).await else {
        return;
    };
    let recofinement_store::Db::Postgres(pool) = &t.db else {
        unreachable!()
    };
    // User 1's rating takes an event id, and its transaction stays open…
    let (late_user, late_movie) = picks[0];
    let mut slow = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO meta_user_content (user_id, content_id, rating) VALUES ($1, $2, 5) \
         ON CONFLICT (user_id, content_id) DO UPDATE SET rating = 5",
    )
    .bind(late_user)
    .bind(late_movie)
    .execute(&mut *slow)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO event (occured_at, occured_by, object_id, kind, model_name, attribute_name, new_value, content_type) \
         VALUES (now(), $1, $2, 'changed', 'meta_user_content', 'rating', '5', 'MOVIE')",
    )
    .bind(late_user)
    .bind(late_movie)
    .execute(&mut *slow)
    .await
    .unwrap();
    // …while user 2's later event commits and a run happens.
    rate(&t, picks[1].0, picks[1].1, 5).await;
    runner.run(&[EngineName::FromProfile], false).await.unwrap();
    slow.commit().await.unwrap();
    t.settle_events().await;
    runner.run(&[EngineName::FromProfile], false).await.unwrap();
    assert_rated_items_left_out(&t, &picks).await;
}

/// `pg_restore` into another cluster brings the old cluster's transaction
/// ids along as event positions and cursors; the new cluster's ids are far
/// below them. The next start repairs them, or new events would never be
/// consumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_after_a_restore_into_another_cluster_are_consumed() {
    let Some((t, runner, picks)) = trained_on_postgres(module_path!()).await else {
        return;
    };
    // What the other cluster's ids look like from here.
    t.sql("UPDATE event SET position = position + 1000000000")
        .await;
    t.sql("UPDATE engine SET consumed_before = consumed_before + 1000000000")
        .await;
    t.sql(
        "INSERT INTO audit (occurred_at, action, target, position) \
         VALUES (now(), 'role_granted', 'user:restored', pg_current_xact_id()::text::bigint + 1000000000)",
    )
    .await;
    t.db.migrate().await.unwrap();
    for &(user, movie) in &picks {
        rate(&t, user, movie, 5).await;
    }
    t.settle_events().await;
    runner.run(&[EngineName::FromProfile], false).await.unwrap();
    assert_rated_items_left_out(&t, &picks).await;
    // The restored audit trail reads as before.
    let trail = t.db.audit_page(0, 10).await.unwrap().entries;
    assert_eq!(trail.len(), 1, "the restored entry is read");
    // A consistent cluster is left alone.
    let cursor = cursor_of(&t, "FromProfile").await;
    assert!(cursor > 0);
    assert!(!t.db.recover_foreign_event_positions().await.unwrap());
    assert_eq!(cursor_of(&t, "FromProfile").await, cursor);
}

backend_test!(
    a_rating_reaches_the_collaborative_list_without_training,
    |t| {
        catalogue(&t).await;
        let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
        assert_eq!(
            runner.fold_in(3).await.unwrap(),
            None,
            "nothing to fold into before the first training"
        );
        runner.run(&ALL_ENGINES, true).await.unwrap();
        let cursor = cursor_of(&t, "CollaborativeFiltering").await;
        let before = rows_of(&t, 3, "CollaborativeFiltering").await;
        let other = rows_of(&t, 12, "CollaborativeFiltering").await;
        assert!(!before.is_empty());
        // User 3 (an Action watcher) loves three Drama movies.
        for movie in [7, 9, 11] {
            rate(&t, 3, movie, 5).await;
        }
        let written = runner.fold_in(3).await.unwrap().expect("a model is kept");
        let after = rows_of(&t, 3, "CollaborativeFiltering").await;
        assert_eq!(after.len(), written);
        assert_ne!(after, before, "the list follows the new ratings");
        assert!(after.iter().all(|(id, _)| ![7, 9, 11].contains(id)));
        let best_drama = |rows: &[(i64, String)]| {
            rows.iter()
                .filter(|(id, _)| id % 2 == 1)
                .map(|(_, score)| score.parse::<f64>().unwrap())
                .fold(0.0, f64::max)
        };
        assert!(
            best_drama(&after) > 10.0 * best_drama(&before),
            "Drama rises: {before:?} → {after:?}"
        );
        assert_eq!(rows_of(&t, 12, "CollaborativeFiltering").await, other);
        assert_eq!(
            cursor_of(&t, "CollaborativeFiltering").await,
            cursor,
            "no full training ran and its cursor did not move"
        );
        // A newcomer gets a collaborative list from their first ratings.
        let user =
            t.db.create_user("fresh@example.com", "fresh", "hash", "user")
                .await
                .unwrap();
        rate(&t, user.user_id, 8, 5).await;
        runner.fold_in(user.user_id).await.unwrap();
        assert!(
            !rows_of(&t, user.user_id, "CollaborativeFiltering")
                .await
                .is_empty()
        );
    }
);

// A restarted process (or a new scheduler) has no item factors: it trains
// at its first run, even within the retrain spacing, so fold-ins work.
backend_test!(
    a_new_process_trains_before_the_minimum_interval_to_fold_in,
    |t| {
        catalogue(&t).await;
        let spacing = Duration::from_secs(3600);
        let cf = [EngineName::CollaborativeFiltering];
        let first = EngineRunner::new(t.db.clone(), 2)
            .unwrap()
            .with_cf_min_interval(spacing);
        assert_eq!(first.run(&cf, false).await.unwrap().len(), 1);
        assert!(first.run(&cf, false).await.unwrap().is_empty(), "spaced");
        let restarted = EngineRunner::new(t.db.clone(), 2)
            .unwrap()
            .with_cf_min_interval(spacing);
        assert_eq!(restarted.run(&cf, false).await.unwrap().len(), 1);
        rate(&t, 3, 7, 5).await;
        assert!(restarted.fold_in(3).await.unwrap().is_some());
    }
);

/// The best score of a Drama (odd id) movie in a list.
fn best_drama(rows: &[(i64, String)]) -> f64 {
    rows.iter()
        .filter(|(id, _)| id % 2 == 1)
        .map(|(_, score)| score.parse::<f64>().unwrap())
        .fold(0.0, f64::max)
}

/// User 3's collaborative rows once Drama leads them ten times over
/// `before` (a fold-in of their Drama ratings landed), or after 15 s,
/// whichever comes first.
async fn drama_rows_after_fold_in(db: &Db, before: &[(i64, String)]) -> Vec<(i64, String)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut rows = rows_with(db, 3, "CollaborativeFiltering").await;
    while best_drama(&rows) <= 10.0 * best_drama(before) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        rows = rows_with(db, 3, "CollaborativeFiltering").await;
    }
    rows
}

// A full training recommends from a snapshot read before it computes: a
// rating folded in while it computes must not be undone when the training
// writes its older rows for that user (they would stay until the next
// training, up to CF_MIN_INTERVAL_SECS later).
backend_test!(a_fold_in_made_while_a_training_computes_outlives_it, |t| {
    catalogue(&t).await;
    let cf = [EngineName::CollaborativeFiltering];
    let (probe, mut started, release) = stalling_probe();
    let runner = Arc::new(
        EngineRunner::new(t.db.clone(), 2)
            .unwrap()
            .with_probe(probe),
    );
    // A first training, so that fold-ins have item factors.
    let first = tokio::spawn({
        let runner = runner.clone();
        async move { runner.run(&cf, true).await }
    });
    started.recv().await.expect("the training computes");
    release.send(()).unwrap();
    first.await.unwrap().unwrap();
    let before = rows_of(&t, 3, "CollaborativeFiltering").await;
    assert!(!before.is_empty());
    // A second training has read its snapshot and is computing…
    let second = tokio::spawn({
        let runner = runner.clone();
        async move { runner.run(&cf, true).await }
    });
    started.recv().await.expect("the training computes");
    // Somebody else's transaction stays open meanwhile (on PostgreSQL it
    // holds the cluster's event bound below the ratings that follow).
    let elsewhere = open_transaction_elsewhere(&t.db).await;
    // …when user 3 (an Action watcher) loves three Drama movies, and is
    // folded in through the queue, as the API does.
    for movie in [7, 9, 11] {
        rate(&t, 3, movie, 5).await;
    }
    runner.request_fold_in(3);
    let folded = drama_rows_after_fold_in(&t.db, &before).await;
    assert!(
        best_drama(&folded) > 10.0 * best_drama(&before),
        "the fold-in ran: {before:?} → {folded:?}"
    );
    release.send(()).unwrap();
    second.await.unwrap().unwrap();
    // The training's rows for user 3 predate the ratings; whatever follows
    // the training must fold user 3 in again.
    let after = drama_rows_after_fold_in(&t.db, &before).await;
    assert!(
        best_drama(&after) > 10.0 * best_drama(&before),
        "the training undid the fold-in: {folded:?} → {after:?}"
    );
    assert!(after.iter().all(|(id, _)| ![7, 9, 11].contains(id)));
    if let Some(mut connection) = elsewhere {
        sqlx::query("ROLLBACK")
            .execute(&mut *connection)
            .await
            .unwrap();
    }
});

/// A transaction of another session, left open until the result is
/// dropped: on PostgreSQL it has a transaction id, so every event bound
/// (`Db::event_bound`) stays at or below it. SQLite's bound does not move
/// with readers: nothing to hold there.
async fn open_transaction_elsewhere(db: &Db) -> Option<sqlx::pool::PoolConnection<sqlx::Postgres>> {
    let Db::Postgres(pool) = db else {
        return None;
    };
    let mut connection = pool.acquire().await.unwrap();
    sqlx::query("BEGIN")
        .execute(&mut *connection)
        .await
        .unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *connection)
        .await
        .unwrap();
    Some(connection)
}

/// Takes every connection of `db`'s pool (`size` of them) and keeps them
/// until the answered sender is dropped or sent to.
async fn hold_every_connection(db: &Db, size: usize) -> tokio::sync::oneshot::Sender<()> {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (held_tx, held) = tokio::sync::oneshot::channel();
    let db = db.clone();
    tokio::spawn(async move {
        recofinement_store::on_db!(&db, pool => {
            let mut connections = Vec::new();
            for _ in 0..size {
                connections.push(pool.acquire().await.unwrap());
            }
            let _ = held_tx.send(());
            let _ = released.await;
            drop(connections);
        })
    });
    held.await.unwrap();
    release
}

/// A runner that trained collaborative filtering on [`catalogue`], user 3's
/// collaborative rows then, and three Drama movies that user 3 (an Action
/// watcher) loves since: a fold-in of user 3 makes Drama lead.
async fn trained_then_drama_for_user_3(t: &TestDb) -> (Arc<EngineRunner>, Vec<(i64, String)>) {
    catalogue(t).await;
    let runner = Arc::new(EngineRunner::new(t.db.clone(), 2).unwrap());
    runner
        .run(&[EngineName::CollaborativeFiltering], true)
        .await
        .unwrap();
    let before = rows_of(t, 3, "CollaborativeFiltering").await;
    for movie in [7, 9, 11] {
        rate(t, 3, movie, 5).await;
    }
    (runner, before)
}

// Under load every connection of the API's pool is busy with list reads. A
// fold-in must not wait in that queue: here the pool is held outright (and a
// rating's write waits for it), yet the fold-in lands. Before fold-ins had
// connections of their own, it waited for the pool (SQLite) or gave up
// after the pool's timeout and dropped its users (PostgreSQL).
backend_test!(a_fold_in_does_not_queue_behind_the_api_pool, |t| {
    let (runner, before) = trained_then_drama_for_user_3(&t).await;
    // Reads the result through a connection of its own.
    let observer = Db::connect(&t.url(), 1).await.unwrap();
    let release = hold_every_connection(&t.db, 8).await;
    // Another user's rating waits for a connection (on SQLite holding the
    // file's writer turn while it waits).
    let waiting_write = tokio::spawn({
        let db = t.db.clone();
        let patch = MetaPatch {
            rating: Some(4),
            additional_count: None,
        };
        async move { db.patch_item(12, 8, ContentKind::Movie, patch).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    runner.request_fold_in(3);
    let folded = drama_rows_after_fold_in(&observer, &before).await;
    assert!(
        best_drama(&folded) > 10.0 * best_drama(&before),
        "the fold-in did not land while the API pool was busy: {before:?} → {folded:?}"
    );
    drop(release);
    // Whatever became of the waiting write (PostgreSQL's pool may have
    // given up on it), it no longer waits.
    let _ = waiting_write.await.unwrap();
    observer.close().await;
});

// A fold-in that fails (the database restarting, a lost connection) is
// tried again: dropped, the user's list would wait hours for the next
// training. Here its write fails for a second, the table being away.
backend_test!(a_failed_fold_in_is_tried_again, |t| {
    let metrics = recofinement_api::metrics::install().unwrap();
    let retried = |text: &str| fold_ins(text, "retried");
    let retried_before = retried(&metrics.render());
    let (runner, before) = trained_then_drama_for_user_3(&t).await;
    t.sql("ALTER TABLE recommended_content RENAME TO recommended_content_away")
        .await;
    runner.request_fold_in(3);
    tokio::time::sleep(Duration::from_secs(1)).await;
    t.sql("ALTER TABLE recommended_content_away RENAME TO recommended_content")
        .await;
    let folded = drama_rows_after_fold_in(&t.db, &before).await;
    assert!(
        best_drama(&folded) > 10.0 * best_drama(&before),
        "the failed fold-in was not tried again: {before:?} → {folded:?}"
    );
    // Operators see it: the retry is counted, and so is the success.
    let text = metrics.render();
    assert!(retried(&text) > retried_before, "{text}");
    assert!(fold_ins(&text, "done") >= 1, "{text}");
    assert!(
        text.contains("recofinement_fold_in_delay_seconds_count"),
        "{text}"
    );
});

/// The `recofinement_fold_ins_total` sample of `outcome` in a scrape (0 when absent).
fn fold_ins(text: &str, outcome: &str) -> u64 {
    let series = format!("recofinement_fold_ins_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series)?.parse().ok())
        .unwrap_or(0)
}

// Several instances: only the scheduler's instance trained and keeps the
// item factors, yet a rating made through another instance reaches the
// user's collaborative list (the change is announced and folded in there).
backend_test!(
    a_rating_on_an_instance_that_did_not_train_is_folded_in_by_the_one_that_did,
    |t| {
        catalogue(&t).await;
        let trainer = Arc::new(EngineRunner::new(t.db.clone(), 2).unwrap());
        trainer.run(&ALL_ENGINES, true).await.unwrap();
        tokio::spawn(trainer.clone().follow_interactions());
        let bridge = EngineBridge {
            wake: Arc::new(tokio::sync::Notify::new()),
            runner: trainer,
        };
        let options = common::ServerOptions {
            engine: Some(Arc::new(bridge)),
            ..Default::default()
        };
        let _a = common::TestServer::start(t.db.clone(), options).await;
        // Instance b has an engine of its own that never trained.
        let b = common::server(&t).await;
        let token = b.account("dora", false).await;
        let user = t
            .scalar("SELECT user_id FROM \"user\" WHERE username = 'dora'")
            .await;
        assert!(rows_of(&t, user, "CollaborativeFiltering").await.is_empty());
        // The listener of a may still be connecting when the first rating
        // is announced: rate one more movie per attempt until it hears one.
        let (mut folded, mut rated) = (Vec::new(), Vec::new());
        for movie in [7, 9, 11, 13, 15] {
            rated.push(movie);
            let path = format!("/api/movie/{movie}/meta");
            let (status, body) = b
                .patch(&path, &token, serde_json::json!({"rating": 5}))
                .await;
            assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
            let deadline = Instant::now() + Duration::from_secs(2);
            while folded.is_empty() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
                folded = rows_of(&t, user, "CollaborativeFiltering").await;
            }
            if !folded.is_empty() {
                break;
            }
        }
        assert!(!folded.is_empty(), "no instance folded the ratings in");
        assert!(folded.iter().all(|(id, _)| !rated.contains(id)));
    }
);

backend_test!(tuned_parameters_are_stored_and_replaced, |t| {
    use recofinement_engine::als::AlsParams;
    use recofinement_store::engine_params::StoredAlsParams;
    assert_eq!(t.db.collaborative_params().await.unwrap(), None);
    let tuned = AlsParams {
        factors: 12,
        regularization: 16.0,
        alpha: 2.0,
        iterations: 7,
        ..AlsParams::default()
    };
    t.db.save_collaborative_params(&recofinement::engine_runner::stored_params(&tuned))
        .await
        .unwrap();
    assert_eq!(
        t.db.collaborative_params().await.unwrap(),
        Some(StoredAlsParams {
            factors: 12,
            regularization: 16.0,
            alpha: 2.0,
            iterations: 7,
        })
    );
    let again = StoredAlsParams {
        factors: 8,
        regularization: 32.0,
        alpha: 4.0,
        iterations: 20,
    };
    t.db.save_collaborative_params(&again).await.unwrap();
    assert_eq!(t.db.collaborative_params().await.unwrap(), Some(again));
    // A training with stored parameters still serves every user.
    catalogue(&t).await;
    let runner = EngineRunner::new(t.db.clone(), 2).unwrap();
    runner
        .run(&[EngineName::CollaborativeFiltering], true)
        .await
        .unwrap();
    assert!(!rows_of(&t, 3, "CollaborativeFiltering").await.is_empty());
});

// ---------------------------------------------------------------------------
// Faults: cancellation, chunked writes, fencing (issues 10 items 4, 6, 7; 11).

/// A probe that tells when a computation starts and holds it until its
/// token is cancelled (or `release` is sent), for at most 20 s.
fn stalling_probe() -> (
    recofinement::engine_runner::Probe,
    tokio::sync::mpsc::UnboundedReceiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    let (started_tx, started) = tokio::sync::mpsc::unbounded_channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let probe: recofinement::engine_runner::Probe = std::sync::Arc::new(move |cancel| {
        let _ = started_tx.send(());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !cancel.is_cancelled() && std::time::Instant::now() < deadline {
            let released = release_rx
                .lock()
                .unwrap()
                .recv_timeout(std::time::Duration::from_millis(10));
            if released.is_ok() {
                return;
            }
        }
    });
    (probe, started, release)
}

async fn outcomes(t: &TestDb, engine: &str) -> Vec<String> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT outcome || ':' || COALESCE(error, '') FROM engine_run WHERE engine = '{engine}' ORDER BY id"
    ));
    recofinement_store::on_db!(&t.db, pool => sqlx::query_as::<_, (String,)>(sql).fetch_all(pool).await.unwrap())
        .into_iter()
        .map(|(o,)| o)
        .collect()
}

backend_test!(
    a_shutdown_stops_a_run_without_writing_or_moving_its_cursor,
    |t| {
        catalogue(&t).await;
        t.settle_events().await;
        EngineRunner::new(t.db.clone(), 2)
            .unwrap()
            .run(&ALL_ENGINES, false)
            .await
            .unwrap();
        rate(&t, 3, 11, 1).await;
        t.settle_events().await;
        let cursor = cursor_of(&t, "FromProfile").await;
        let before = rows_of(&t, 3, "FromProfile").await;
        let (probe, mut started, _release) = stalling_probe();
        let runner = std::sync::Arc::new(
            EngineRunner::new(t.db.clone(), 2)
                .unwrap()
                .with_probe(probe),
        );
        let run = tokio::spawn({
            let runner = runner.clone();
            async move { runner.run(&[EngineName::FromProfile], false).await }
        });
        started.recv().await.expect("the run computes");
        runner.shutdown();
        let result = tokio::time::timeout(std::time::Duration::from_secs(5), run)
            .await
            .expect("a cancelled run ends at once")
            .unwrap();
        let error = result.expect_err("a cancelled run is no success");
        assert!(
            recofinement::engine_runner::is_cancelled(&error),
            "{error:#}"
        );
        assert_eq!(
            cursor_of(&t, "FromProfile").await,
            cursor,
            "the cursor moved"
        );
        assert_eq!(
            rows_of(&t, 3, "FromProfile").await,
            before,
            "rows were written"
        );
        let history = outcomes(&t, "FromProfile").await;
        assert!(
            history.last().unwrap().starts_with("interrupted:"),
            "{history:?}"
        );
        // A stopping runner starts nothing new.
        assert!(runner.run(&ALL_ENGINES, true).await.is_err());
    }
);

/// 150 more users (ids 101..=250) who each get a list of every movie.
async fn many_lists(t: &TestDb) -> Vec<recofinement_store::engine_io::RecoRow> {
    let mut sql = String::new();
    for user in 101..=250 {
        sql.push_str(&format!(
            "INSERT INTO \"user\" (user_id, uuid, email, username, password_hash) \
             VALUES ({user}, '{}', 'm{user}@example.com', 'many{user}', 'hash');",
            uuid::Uuid::new_v4()
        ));
    }
    t.sql(&sql).await;
    (101..=250)
        .flat_map(|user| {
            (1..=MOVIES).map(move |movie| recofinement_store::engine_io::RecoRow {
                subject: user,
                content: movie,
                score: 0.5,
                kind: ContentKind::Movie,
                reason: None,
            })
        })
        .collect()
}

backend_test!(
    engine_writes_are_chunked_and_an_interrupted_one_keeps_its_cursor,
    |t| {
        use recofinement_store::engine_io::{Cursor, ROWS_PER_TRANSACTION, RecoOwner, Written};
        catalogue(&t).await;
        let rows = many_lists(&t).await;
        assert!(
            rows.len() > 2 * ROWS_PER_TRANSACTION,
            "the write spans transactions"
        );
        // A list of a user the new rows do not mention: a full write removes it.
        t.sql("INSERT INTO recommended_content (user_id, content_id, score, engine, engine_priority, content_type) \
           VALUES (5, 1, 0.1, 'FromProfile', 1, 'MOVIE')").await;
        let calls = std::sync::atomic::AtomicUsize::new(0);
        // The error injected mid-way: the third transaction is never started.
        let stop = || calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2;
        let cursor = Cursor {
            engine: EngineName::FromProfile,
            kinds: &[ContentKind::Movie],
            consumed_before: 7,
            fence: None,
            stop: Some(&stop),
        };
        let write = |cursor| {
            t.db.replace_recommendations(
                EngineName::FromProfile,
                RecoOwner::Users(None),
                &rows,
                cursor,
            )
        };
        assert_eq!(write(cursor).await.unwrap(), Written::Stopped);
        assert_eq!(
            cursor_of(&t, "FromProfile").await,
            -1,
            "an interrupted write moved the cursor"
        );
        // Whole lists only: every user has all of their rows or none.
        let partial = t
        .scalar(&format!(
            "SELECT COUNT(*) FROM (SELECT user_id FROM recommended_content WHERE engine = 'FromProfile' \
             AND user_id > 100 GROUP BY user_id HAVING COUNT(*) <> {MOVIES}) p"
        ))
        .await;
        assert_eq!(partial, 0);
        let cursor = Cursor {
            stop: None,
            ..cursor
        };
        assert_eq!(write(cursor).await.unwrap(), Written::Done);
        assert_eq!(cursor_of(&t, "FromProfile").await, 7);
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM recommended_content WHERE engine = 'FromProfile'")
                .await,
            rows.len() as i64
        );
    }
);

backend_test!(api_writes_proceed_while_the_engine_writes, |t| {
    use recofinement_store::engine_io::{Cursor, RecoOwner, Written};
    catalogue(&t).await;
    let rows = many_lists(&t).await;
    // Rows of many engine writes in a row, while users rate.
    let writer = {
        let db = t.db.clone();
        tokio::spawn(async move {
            for _ in 0..5 {
                let cursor = Cursor {
                    engine: EngineName::FromProfile,
                    kinds: &[ContentKind::Movie],
                    consumed_before: 1,
                    fence: None,
                    stop: None,
                };
                let written = db
                    .replace_recommendations(
                        EngineName::FromProfile,
                        RecoOwner::Users(None),
                        &rows,
                        cursor,
                    )
                    .await
                    .unwrap();
                assert_eq!(written, Written::Done);
            }
        })
    };
    for round in 0..20 {
        let user = 1 + round % USERS;
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            rate(&t, user, 1 + round % MOVIES, 4),
        )
        .await
        .expect("a rating waited too long for the engine's write");
    }
    writer.await.unwrap();
});

/// `engine`'s list of `movies`, in that order, for every user.
fn lists_of(
    engine: EngineName,
    movies: &[i64],
) -> (EngineName, Vec<recofinement_store::engine_io::RecoRow>) {
    let rows = (1..=USERS)
        .flat_map(|user| {
            movies
                .iter()
                .map(move |&content| recofinement_store::engine_io::RecoRow {
                    subject: user,
                    content,
                    score: 1.0 / content as f64,
                    kind: ContentKind::Movie,
                    reason: None,
                })
        })
        .collect();
    (engine, rows)
}

// Fold-ins, the fold-ins redone after a training and the engines' own
// writes replace users' lists at the same time. A list's rows are keyed by
// (user, movie) across engines: two writers inserting them in opposite
// orders deadlocked on PostgreSQL, and two writers of one engine's lists
// each deleted only the rows committed before it began, so the user kept
// both lists, the stale one included.
backend_test!(concurrent_list_writes_neither_deadlock_nor_mix, |t| {
    use recofinement_store::engine_io::{Cursor, RecoOwner, Written};
    catalogue(&t).await;
    let users: Vec<i64> = (1..=USERS).collect();
    let ascending: Vec<i64> = (1..=15).collect();
    let descending: Vec<i64> = (1..=15).rev().collect();
    let others: Vec<i64> = (16..=MOVIES).collect();
    let writers = [
        lists_of(EngineName::FromProfile, &ascending),
        lists_of(EngineName::CollaborativeFiltering, &descending),
        lists_of(EngineName::CollaborativeFiltering, &others),
    ];
    for round in 0..10 {
        let writes = writers.iter().map(|(engine, rows)| {
            let cursor = Cursor {
                engine: *engine,
                kinds: &[],
                consumed_before: 0,
                fence: None,
                stop: None,
            };
            t.db.replace_recommendations(*engine, RecoOwner::Users(Some(&users)), rows, cursor)
        });
        for written in futures::future::join_all(writes).await {
            assert_eq!(
                written.expect("a concurrent list write failed"),
                Written::Done
            );
        }
        let mixed = t
            .scalar(
                "SELECT COUNT(*) FROM (SELECT user_id FROM recommended_content \
                 WHERE engine = 'CollaborativeFiltering' GROUP BY user_id \
                 HAVING MIN(content_id) <= 15 AND MAX(content_id) >= 16) m",
            )
            .await;
        assert_eq!(
            mixed, 0,
            "round {round}: users kept two lists of one engine"
        );
    }
});

/// A scheduler that lost its lock mid-run must not write once another
/// took over: its write is refused and recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_scheduler_cannot_write_after_a_takeover() {
    if !recofinement_store::testing::postgres_enabled(module_path!()) {
        return;
    }
    let t = TestDb::fresh(Backend::Postgres).await;
    catalogue(&t).await;
    t.settle_events().await;
    let (probe, mut started, release) = stalling_probe();
    let runner = std::sync::Arc::new(
        EngineRunner::new(t.db.clone(), 2)
            .unwrap()
            .with_probe(probe),
    );
    let first =
        t.db.try_engine_lock()
            .await
            .unwrap()
            .expect("the lock is free");
    runner.set_fence(first.fence());
    let run = tokio::spawn({
        let runner = runner.clone();
        async move { runner.run(&[EngineName::Popularity], true).await }
    });
    started.recv().await.expect("the run computes");
    // The lock's connection dies; another instance takes over.
    t.sql(&format!(
        "SELECT pg_terminate_backend({})",
        first.backend_pid().unwrap()
    ))
    .await;
    let mut second = None;
    for _ in 0..100 {
        if let Some(lock) = t.db.try_engine_lock().await.unwrap() {
            second = Some(lock);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let second = second.expect("another instance takes the lock");
    assert!(second.fence().unwrap().generation > first.fence().unwrap().generation);
    release.send(()).unwrap();
    let error = tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap()
        .expect_err("the stale scheduler's write is refused");
    assert!(
        format!("{error:#}").contains("another engine scheduler took over"),
        "{error:#}"
    );
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM content WHERE popularity_score IS NOT NULL")
            .await,
        0,
        "the stale write committed"
    );
    let history = outcomes(&t, "Popularity").await;
    assert!(
        history.last().unwrap().starts_with("failed:"),
        "{history:?}"
    );
    drop(second);
}

/// Refuses (on this database only) any update that sets a negative
/// popularity score: a write that fails half-way.
fn refuse_negative_scores(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_negative BEFORE UPDATE OF popularity_score ON content \
             WHEN NEW.popularity_score < 0 BEGIN SELECT RAISE(ABORT, 'refused'); END"
        }
        Backend::Postgres => {
            "CREATE FUNCTION refuse_negative() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.popularity_score < 0 THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_negative BEFORE UPDATE ON content \
             FOR EACH ROW EXECUTE FUNCTION refuse_negative()"
        }
    }
}

// Popular lists are cached on every instance until a Catalogue notice: a
// popularity write that fails after committing some of its scores must
// still send it, or the lists keep the old order until they expire.
backend_test!(
    a_popularity_write_cut_short_announces_what_it_committed,
    |t| {
        use recofinement_store::changes::{Heard, ListChange};
        use recofinement_store::engine_io::{Cursor, ROWS_PER_TRANSACTION};
        catalogue(&t).await;
        t.sql(refuse_negative_scores(t.backend)).await;
        let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel();
        let db = t.db.clone();
        tokio::spawn(async move {
            db.watch_changes(move |change| heard.send(change).is_ok())
                .await;
        });
        // Listening once a probe comes back.
        let probe = ListChange::Memberships;
        loop {
            t.db.announce(probe).await;
            match tokio::time::timeout(Duration::from_millis(200), hearing.recv()).await {
                Ok(Some(Heard::Change(change))) if change == probe => break,
                _ => continue,
            }
        }
        // The first transaction scores item 1; the second is refused.
        let mut scores = vec![(1, 0.75)];
        scores.extend((2..=ROWS_PER_TRANSACTION as i64).map(|id| (-id, 0.0)));
        scores.push((2, -1.0));
        let cursor = Cursor {
            engine: EngineName::Popularity,
            kinds: &[],
            consumed_before: 0,
            fence: None,
            stop: None,
        };
        assert!(t.db.write_popularity(&scores, cursor).await.is_err());
        let score = t
            .scalar_f64("SELECT popularity_score FROM content WHERE content_id = 1")
            .await;
        assert_eq!(score, Some(0.75), "the first transaction committed");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, hearing.recv()).await {
                Ok(Some(Heard::Change(ListChange::Catalogue))) => break,
                Ok(Some(_)) => continue,
                _ => panic!("no Catalogue notice after a partly committed popularity write"),
            }
        }
    }
);

// A forced run the scheduler took but could not run (the process is
// stopping) waits for the next scheduler instead of vanishing.
backend_test!(a_forced_run_stopped_by_shutdown_stays_queued, |t| {
    catalogue(&t).await;
    t.sql(&format!(
        "INSERT INTO engine_forced_run (engine, requested_at) VALUES ('{}', CURRENT_TIMESTAMP)",
        EngineName::Popularity.as_str()
    ))
    .await;
    let stopping = EngineRunner::new(t.db.clone(), 1).unwrap();
    stopping.shutdown();
    assert!(stopping.serve_forced_runs().await.is_err());
    assert_eq!(t.count("engine_forced_run").await, 1, "still queued");
    let next = EngineRunner::new(t.db.clone(), 1).unwrap();
    next.serve_forced_runs().await.unwrap();
    assert_eq!(t.count("engine_forced_run").await, 0);
    let forced = "SELECT COUNT(*) FROM engine_run WHERE cause = 'forced' AND outcome = 'done'";
    assert_eq!(t.scalar(forced).await, 1);
});
