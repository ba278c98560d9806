//! Sandbox runs are bounded across instances (issue 11, item 7): runs
//! still computing anywhere on the database count against
//! `SANDBOX_MAX_RUNS_TOTAL`. A run past its timeout is cancelled, not left
//! computing, and a shutdown tells the client its run was interrupted.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use recofinement::engine_runner::{EngineBridge, EngineRunner};

use common::SocketClient;
use recofinement_store::backend_test;

backend_test!(launches_past_the_global_limit_are_refused, |t| {
    let server = common::server(&t).await;
    let admin = server.account("admin", true).await;
    let profile = server.profile(&admin, "busy").await;
    let profile_id = t
        .scalar(&format!(
            "SELECT profile_id FROM profile WHERE uuid = '{profile}'"
        ))
        .await;
    // Other instances are computing as many runs as all may (4 by default).
    for _ in 0..4 {
        t.db.snapshot_profile(profile_id).await.unwrap();
    }
    let mut tab = recommend(&server, &admin, &profile).await;
    assert_eq!(
        tab.response().await["message"],
        "Error 429, Too many recommendations are running, try again later!"
    );
});

/// An instance whose sandbox computations go through `probe`, with the
/// given sandbox timeout; answers it and its runner.
async fn probed_server(
    t: &recofinement_store::testing::TestDb,
    probe: recofinement::engine_runner::Probe,
    timeout: Duration,
) -> (common::TestServer, Arc<EngineRunner>) {
    let runner = Arc::new(
        EngineRunner::new(t.db.clone(), 2)
            .unwrap()
            .with_probe(probe),
    );
    let bridge = EngineBridge {
        wake: Arc::new(tokio::sync::Notify::new()),
        runner: runner.clone(),
    };
    let config = recofinement_api::ApiConfig {
        sandbox_timeout: timeout,
        ..recofinement_api::testing::test_config()
    };
    let options = common::ServerOptions {
        engine: Some(Arc::new(bridge)),
        config: Some(config),
        ..Default::default()
    };
    (
        common::TestServer::start(t.db.clone(), options).await,
        runner,
    )
}

/// A computation that runs until its token is cancelled (20 s at most),
/// telling that it started and whether it saw the cancellation.
fn until_cancelled(
    started: Arc<AtomicBool>,
    seen: Arc<AtomicBool>,
) -> recofinement::engine_runner::Probe {
    Arc::new(move |cancel| {
        started.store(true, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !cancel.is_cancelled() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        seen.store(cancel.is_cancelled(), Ordering::SeqCst);
    })
}

/// A tab of `admin` that asked for a run of `profile` and joined its room.
async fn recommend(server: &common::TestServer, admin: &str, profile: &str) -> SocketClient {
    let mut tab = SocketClient::connect(server.address, Some(admin))
        .await
        .expect("connected");
    tab.response().await;
    tab.emit("recommend", Some(json!({"profile_uuid": profile})))
        .await;
    assert_eq!(tab.response().await["message"], "Room joined");
    tab
}

async fn launch(
    server: &common::TestServer,
    t: &recofinement_store::testing::TestDb,
) -> (SocketClient, i64) {
    let admin = server.account("admin", true).await;
    let profile = server.profile(&admin, "slow").await;
    let tab = recommend(server, &admin, &profile).await;
    let profile_id = t
        .scalar(&format!(
            "SELECT profile_id FROM profile WHERE uuid = '{profile}'"
        ))
        .await;
    (tab, profile_id)
}

async fn within_5s(mut condition: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..250 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}");
}

backend_test!(a_sandbox_run_past_its_timeout_stops_computing, |t| {
    let seen = Arc::new(AtomicBool::new(false));
    let (server, _runner) = probed_server(
        &t,
        until_cancelled(Arc::new(AtomicBool::new(false)), seen.clone()),
        Duration::from_millis(300),
    )
    .await;
    let (mut tab, _) = launch(&server, &t).await;
    assert_eq!(
        tab.response().await["message"],
        "Error 504, The recommendation took too long!"
    );
    within_5s(
        async || seen.load(Ordering::SeqCst),
        "the computation went on after the timeout",
    )
    .await;
    within_5s(
        async || {
            t.scalar("SELECT COUNT(*) FROM engine_run WHERE engine = 'Sandbox' AND outcome = 'interrupted'")
                .await
                == 1
        },
        "the run's history does not say interrupted",
    )
    .await;
});

backend_test!(a_shutdown_tells_the_client_its_run_was_interrupted, |t| {
    let seen = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let probe = until_cancelled(started.clone(), seen.clone());
    let (server, runner) = probed_server(&t, probe, Duration::from_secs(60)).await;
    let (mut tab, profile_id) = launch(&server, &t).await;
    // The run is computing when the process is told to stop.
    within_5s(
        async || started.load(Ordering::SeqCst),
        "the run did not start",
    )
    .await;
    runner.shutdown();
    let outcome = tab.response().await;
    assert_eq!(
        outcome["message"],
        "Error 503, The server is shutting down: the recommendation was interrupted!"
    );
    assert!(seen.load(Ordering::SeqCst));
    let status = t
        .text(&format!(
            "SELECT status FROM recommendation_launched_for_profile_event WHERE profile_id = {profile_id}"
        ))
        .await;
    assert_eq!(status.as_deref(), Some("interrupted"));
    // Then the session is closed cleanly.
    assert_eq!(
        tab.response().await["message"],
        "Error 503, The server is shutting down!"
    );
});
