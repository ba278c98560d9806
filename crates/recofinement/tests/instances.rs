//! Several instances on one database behave as one service: revocations
//! and login throttling are shared through the database, Socket.IO rooms
//! through Redis, and one engine scheduler runs at a time.

mod common;

use std::time::{Duration, Instant};

use serde_json::json;

use common::SocketClient;
use recofinement_store::backend_test;
use recofinement_store::testing::{Backend, require_service};

use common::PASSWORD;

backend_test!(a_token_revoked_on_one_instance_is_refused_by_all, |t| {
    let (a, b) = (common::server(&t).await, common::server(&t).await);
    let token = a.account("alice", false).await;
    let me = a
        .call(reqwest::Method::GET, "/api/user/genre", Some(&token), None)
        .await
        .1;
    assert_eq!(me["status"], true);
    let (status, _) = b
        .call(
            reqwest::Method::POST,
            "/api/auth/logout",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    for server in [&a, &b] {
        let answer = server
            .call(reqwest::Method::GET, "/api/user/genre", Some(&token), None)
            .await
            .1;
        assert_eq!(answer["msg"], "Token has been revoked");
    }
});

backend_test!(login_throttling_holds_across_instances, |t| {
    let (a, b) = (common::server(&t).await, common::server(&t).await);
    a.account("alice", false).await;
    let wrong = json!({"email": "alice@example.com", "password": "wrongPassword!9"});
    // The default limit is 10 failures per account, spread over both instances.
    for i in 0..10 {
        let server = if i % 2 == 0 { &a } else { &b };
        let answer = server
            .call(
                reqwest::Method::POST,
                "/api/auth/login",
                None,
                Some(wrong.clone()),
            )
            .await
            .1;
        assert_eq!(answer["message"], "Failed to log in.");
    }
    let right = json!({"email": "alice@example.com", "password": PASSWORD});
    for server in [&a, &b] {
        let answer = server
            .call(
                reqwest::Method::POST,
                "/api/auth/login",
                None,
                Some(right.clone()),
            )
            .await
            .1;
        assert_eq!(
            answer["message"],
            "Too many failed attempts, try again later."
        );
    }
});

backend_test!(one_engine_scheduler_runs_at_a_time, |t| {
    let first =
        t.db.try_engine_lock()
            .await
            .unwrap()
            .expect("the first instance takes the lock");
    if t.backend == Backend::Postgres {
        assert!(
            t.db.try_engine_lock().await.unwrap().is_none(),
            "a second instance waits"
        );
        // The holder dies: its connection closes and another takes over.
        drop(first);
        let started = Instant::now();
        loop {
            if t.db.try_engine_lock().await.unwrap().is_some() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "no takeover");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
});

backend_test!(
    a_run_launched_on_one_instance_reaches_a_tab_on_another,
    |t| {
        // Redis for the shared rooms: `.ci/run` sets TEST_REDIS_URL.
        let Some(redis) = require_service(module_path!(), "TEST_REDIS_URL") else {
            return;
        };
        let a = common::server_with(&t, Some(&redis)).await;
        let b = common::server_with(&t, Some(&redis)).await;
        let token = a.account("admin", true).await;
        let profile = a.profile(&token, "shared").await;
        let mut tab_on_a = SocketClient::connect(a.address, Some(&token))
            .await
            .expect("connected to A");
        tab_on_a.response().await;
        tab_on_a.emit("join", None).await;
        assert_eq!(
            tab_on_a.response().await["message"],
            "Room successfully joined"
        );
        let mut tab_on_b = SocketClient::connect(b.address, Some(&token))
            .await
            .expect("connected to B");
        tab_on_b.response().await;
        tab_on_b
            .emit("recommend", Some(json!({"profile_uuid": profile})))
            .await;
        assert_eq!(tab_on_b.response().await["message"], "Room joined");
        assert_eq!(
            tab_on_b.response().await["message"],
            "200, Recommendation complete for this profile!"
        );
        // The tab on instance A hears both, through Redis.
        assert_eq!(tab_on_a.response().await["message"], "Room joined");
        assert_eq!(
            tab_on_a.response().await["message"],
            "200, Recommendation complete for this profile!"
        );
    }
);
