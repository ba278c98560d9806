//! The event log and the audit trail are read on from a cursor. On
//! PostgreSQL an id is taken when a row is written, and the transaction
//! that took a lower id may commit after one that took a higher id: a
//! reader must still get it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use recofinement_store::Db;
use recofinement_store::testing::{Backend, postgres_enabled};

use crate::support::TestApp;

/// On a fresh PostgreSQL database: the app, an administrator, a user
/// (token, uuid) and a movie the user can rate; `None` without PostgreSQL.
async fn rated_movie_on_postgres(test: &str) -> Option<(TestApp, String, (String, String), i64)> {
    if !postgres_enabled(test) {
        return None;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let (admin, _) = app.register_admin("admin").await;
    let user = app.register("alice").await;
    let movie = app
        .add_item(&admin, "movie", json!({"title": "Late", "genres": []}))
        .await;
    Some((app, admin, user, movie))
}

/// Reads `log` from the start to its cursor; then a row of `late_insert`
/// takes the lower id and stays open while `later` writes a higher one and
/// commits; a tool reads on, the late row commits, the tool reads on
/// again: it has read both rows.
async fn read_across_a_late_commit(
    app: &TestApp,
    admin: &str,
    log: &str,
    late_insert: &str,
    later: impl std::future::Future<Output = ()>,
) {
    app.test_db.settle_events().await;
    let (_, body) = app.get(&format!("/api/{log}?limit=1000"), admin).await;
    let cursor = body["next_after"].clone();
    let Db::Postgres(pool) = &app.db else {
        unreachable!("PostgreSQL only")
    };
    let mut late = pool.begin().await.unwrap();
    let (late_id,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(late_insert.to_string()))
        .fetch_one(&mut *late)
        .await
        .unwrap();
    later.await;
    let (_, first) = app.get(&format!("/api/{log}?after={cursor}"), admin).await;
    late.commit().await.unwrap();
    app.test_db.settle_events().await;
    let next = &first["next_after"];
    let (_, second) = app.get(&format!("/api/{log}?after={next}"), admin).await;
    let id = if log == "events" { "id" } else { "audit_id" };
    let read: Vec<i64> = [first, second]
        .iter()
        .flat_map(|page| page["content"].as_array().unwrap().clone())
        .map(|entry: Value| entry[id].as_i64().unwrap())
        .collect();
    assert!(
        read.contains(&late_id),
        "{log}: the late row was stepped over: {read:?}"
    );
    assert!(read.iter().any(|id| *id > late_id), "{log}: {read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_never_steps_over_a_late_commit() {
    let Some((app, admin, (user, _), movie)) = rated_movie_on_postgres(module_path!()).await else {
        return;
    };
    let late = format!(
        "INSERT INTO event (occured_at, object_id, kind, model_name) \
         VALUES (now(), {movie}, 'changed', 'content') RETURNING id"
    );
    let rate = async {
        let path = format!("/api/movie/{movie}/meta");
        let status = app.patch(&path, &user, json!({"rating": 5})).await.0;
        assert_eq!(status, StatusCode::CREATED);
    };
    read_across_a_late_commit(&app, &admin, "events", &late, rate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_never_steps_over_a_late_commit() {
    let Some((app, admin, (user, uuid), _)) = rated_movie_on_postgres(module_path!()).await else {
        return;
    };
    let late = "INSERT INTO audit (occurred_at, action, target) \
                VALUES (now(), 'role_granted', 'user:late') RETURNING audit_id";
    let delete_account = async {
        let path = format!("/api/user/{uuid}");
        assert_eq!(app.delete(&path, &user).await.0, StatusCode::CREATED);
    };
    read_across_a_late_commit(&app, &admin, "audit", late, delete_account).await;
}
