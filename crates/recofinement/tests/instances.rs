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
    let me = a.get("/api/user/genre", &token).await.1;
    assert_eq!(me["status"], true);
    let (status, _) = b.logout(&token).await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    // At once where it was revoked, within a second everywhere else.
    let answer = b.get("/api/user/genre", &token).await.1;
    assert_eq!(answer["msg"], "Token has been revoked");
    let refused = within_a_second(|| async {
        let answer = a.get("/api/user/genre", &token).await.1;
        answer["msg"] == "Token has been revoked"
    })
    .await;
    assert!(refused, "instance a still accepts the revoked token");
});

/// Polls `check` until it holds, for at most a second (the bound within
/// which a change of auth state reaches every instance).
async fn within_a_second<F, Fut>(check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

backend_test!(
    a_demotion_or_a_deletion_reaches_every_instance_within_a_second,
    |t| {
        let (a, b) = (common::server(&t).await, common::server(&t).await);
        let admin = a.account("boss", true).await;
        let user = a.account("carol", false).await;
        // Both instances have checked both tokens (and cached what they read).
        for server in [&a, &b] {
            let (status, _) = server.get("/api/engine/runs", &admin).await;
            assert_eq!(status, reqwest::StatusCode::OK);
            let (status, _) = server.get("/api/user/genre", &user).await;
            assert_eq!(status, reqwest::StatusCode::OK);
        }
        // A demotion by another process (`admin revoke` on the same database).
        let other = recofinement_store::Db::connect(&t.url(), 1).await.unwrap();
        assert!(
            other
                .revoke_role("boss@example.com", "admin")
                .await
                .unwrap()
        );
        for server in [&a, &b] {
            let demoted = within_a_second(|| async {
                let (status, _) = server.get("/api/engine/runs", &admin).await;
                status == reqwest::StatusCode::FORBIDDEN
            })
            .await;
            assert!(
                demoted,
                "{} still lets the demoted admin in",
                server.url("")
            );
        }
        // The account deletes itself through the other instance.
        let me = other
            .user_by_email("carol@example.com")
            .await
            .unwrap()
            .unwrap();
        let (status, _) = b.delete(&format!("/api/user/{}", me.uuid), &user).await;
        assert_eq!(status, reqwest::StatusCode::CREATED);
        let gone = within_a_second(|| async {
            let (status, _) = a.get("/api/user/genre", &user).await;
            status == reqwest::StatusCode::UNAUTHORIZED
        })
        .await;
        assert!(gone, "instance a still serves a deleted account");
    }
);

// Accounts are cached on each instance; a change made through another
// instance reaches them within a second.
backend_test!(
    an_account_changed_on_one_instance_reads_changed_on_all,
    |t| {
        let (a, b) = (common::server(&t).await, common::server(&t).await);
        let alice = a.account("alice", false).await;
        let bob = a.account("bobby", false).await;
        let db = recofinement_store::Db::connect(&t.url(), 1).await.unwrap();
        let alice_uuid = db
            .user_by_email("alice@example.com")
            .await
            .unwrap()
            .unwrap()
            .uuid;
        let me = format!("/api/user/{alice_uuid}");
        // Bob, on the other instance, creates a group; its notice has long
        // arrived when a caches her answer.
        let (_, created) = b
            .post("/api/group", Some(&bob), json!({"name": "bookclub"}))
            .await;
        let group = created["group"]["group_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{created}"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            account_answer(&a, &me, &alice).await["user"]["invitations"],
            json!([])
        );
        // He invites her.
        let (status, _) = b
            .post(
                &format!("/api/group/{group}/invitations"),
                Some(&bob),
                json!({"uuid": alice_uuid}),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK);
        let invited = within_a_second(|| async {
            account_answer(&a, &me, &alice).await["user"]["invitations"][0]["group_id"] == group
        })
        .await;
        assert!(invited, "instance a still shows no invitation");
        // She renames herself on b; a reads the new name.
        let (status, _) = b.patch(&me, &alice, json!({"username": "alicia"})).await;
        assert_eq!(status, reqwest::StatusCode::CREATED);
        let renamed = within_a_second(|| async {
            account_answer(&a, &me, &alice).await["user"]["username"] == "alicia"
        })
        .await;
        assert!(renamed, "instance a still shows the old name");
    }
);

/// What `path` answers `token` on `server`.
async fn account_answer(server: &common::TestServer, path: &str, token: &str) -> serde_json::Value {
    server.get(path, token).await.1
}

backend_test!(login_throttling_holds_across_instances, |t| {
    let (a, b) = (common::server(&t).await, common::server(&t).await);
    a.account("alice", false).await;
    let wrong = json!({"email": "alice@example.com", "password": "wrongPassword!9"});
    // The default limit is 10 failures per account, spread over both instances.
    for i in 0..10 {
        let server = if i % 2 == 0 { &a } else { &b };
        let answer = server.post("/api/auth/login", None, wrong.clone()).await.1;
        assert_eq!(answer["message"], "Failed to log in.");
    }
    let right = json!({"email": "alice@example.com", "password": PASSWORD});
    for server in [&a, &b] {
        let answer = server.post("/api/auth/login", None, right.clone()).await.1;
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

/// Waits up to ten seconds for `check`.
async fn within_ten_seconds<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two instances on one PostgreSQL database, each with its real scheduler
/// loop: the one holding the engine lock runs the engines under its fence,
/// the other waits. A forced run asked of the waiting one is run by the
/// holder: run where it was asked, it would race the holder's runs of the
/// same engine, unfenced, and could leave a cursor past an event whose
/// effect its own write had just overwritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_run_asked_of_a_standby_runs_on_the_scheduler() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use recofinement::engine_runner::{EngineBridge, EngineRunner};
    use recofinement::scheduler;
    use recofinement_store::testing::TestDb;

    if !recofinement_store::testing::postgres_enabled(module_path!()) {
        return;
    }
    let t = TestDb::fresh(Backend::Postgres).await;
    let hour = Duration::from_secs(3600);
    let holder = Arc::new(EngineRunner::new(t.db.clone(), 1).unwrap());
    let wake = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(scheduler::run(t.db.clone(), holder.clone(), wake, hour));
    within_ten_seconds("the first instance holds the lock", || async {
        holder.scheduler_role() == Some("scheduler")
    })
    .await;
    // The second instance computes nothing without the lock.
    let computed = Arc::new(AtomicUsize::new(0));
    let counter = computed.clone();
    let probe: recofinement::engine_runner::Probe =
        Arc::new(move |_: &recofinement_engine::Cancel| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
    let standby = Arc::new(
        EngineRunner::new(t.db.clone(), 1)
            .unwrap()
            .with_probe(probe),
    );
    let wake = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(scheduler::run(
        t.db.clone(),
        standby.clone(),
        wake.clone(),
        hour,
    ));
    within_ten_seconds("the second instance waits", || async {
        standby.scheduler_role() == Some("standby")
    })
    .await;
    let bridge = EngineBridge {
        wake,
        runner: standby.clone(),
    };
    let options = common::ServerOptions {
        engine: Some(Arc::new(bridge)),
        ..common::ServerOptions::default()
    };
    let server = common::TestServer::start(t.db.clone(), options).await;
    let admin = server.account("boss", true).await;
    let body = json!({"engines": ["Popularity"]});
    let (status, answer) = server.post("/api/engine/runs", Some(&admin), body).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{answer}");
    let forced = "SELECT COUNT(*) FROM engine_run WHERE cause = 'forced' AND outcome = 'done'";
    within_ten_seconds("the forced run is done", || async {
        t.scalar(forced).await == 1
    })
    .await;
    assert_eq!(
        computed.load(Ordering::SeqCst),
        0,
        "the standby computed it"
    );
    assert_eq!(t.count("engine_forced_run").await, 0, "taken off the queue");
}
