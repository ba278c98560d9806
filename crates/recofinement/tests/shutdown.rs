//! Shutdown loses nothing: the real binary under load at 32 connections
//! gets SIGTERM; every request the server accepted is answered in full
//! (logins in the middle of bcrypt included), later connections are
//! refused, and the process exits 0. A run a stop left `running` is marked
//! interrupted at the next start.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use common::PASSWORD;
use common::binary::Server;
use recofinement_store::testing::TempDir;

#[derive(Default)]
struct Tally {
    answered: AtomicUsize,
    refused: AtomicUsize,
    failed: AtomicUsize,
    /// SIGTERM has been sent.
    signalled: std::sync::atomic::AtomicBool,
}

/// A connection the kernel completed in the last instant before the
/// listener closed is reset before the server ever saw it: after the
/// signal that is a refusal, not a failed request (no byte of an answer
/// was sent, and nothing was read).
fn refused_at_the_door(tally: &Tally, error: &reqwest::Error) -> bool {
    use std::error::Error;
    if error.is_connect() {
        return true;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return tally.signalled.load(Ordering::SeqCst)
                && io.kind() == std::io::ErrorKind::ConnectionReset;
        }
        source = cause.source();
    }
    false
}

/// Sends `request` until the server refuses connections; each request on
/// a fresh connection, so "accepted" is unambiguous.
async fn hammer(tally: Arc<Tally>, request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    loop {
        match request(&client).send().await {
            Ok(answer) if answer.status().is_success() => {
                answer.bytes().await.expect("a whole body");
                tally.answered.fetch_add(1, Ordering::Relaxed);
            }
            Ok(answer) => {
                eprintln!("failed: {}", answer.status());
                tally.failed.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) if refused_at_the_door(&tally, &error) => {
                tally.refused.fetch_add(1, Ordering::Relaxed);
                if error.is_connect() {
                    return;
                }
            }
            Err(error) => {
                eprintln!("failed: {error:?}");
                tally.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_fails_no_accepted_request() {
    let dir = TempDir::new("shutdown");
    let url = format!("sqlite://{}/db.sqlite", dir.0.display());
    let mut server = Server::start(&url, &["--no-engine"], &[("BCRYPT_COST", "10")]).await;
    let base = server.base.clone();
    let answer = server.register("load").await;
    let token = answer["access_token"].as_str().unwrap().to_string();
    let uuid = answer["user"]["uuid"].as_str().unwrap().to_string();

    let tally = Arc::new(Tally::default());
    let mut load = Vec::new();
    for i in 0..32 {
        let tally = tally.clone();
        let (base, token, uuid) = (base.clone(), token.clone(), uuid.clone());
        load.push(tokio::spawn(async move {
            if i % 8 == 0 {
                // Logins spend tens of milliseconds in bcrypt: in flight at the signal.
                let login = json!({"email": "load@example.com", "password": PASSWORD});
                hammer(tally, move |c| {
                    c.post(format!("{base}/api/auth/login")).json(&login)
                })
                .await
            } else {
                hammer(tally, move |c| {
                    c.get(format!("{base}/api/user/{uuid}")).bearer_auth(&token)
                })
                .await
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tally.signalled.store(true, Ordering::SeqCst);
    let pid = server.child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), server.child.wait())
        .await
        .expect("the server stops within its grace period")
        .unwrap();
    for task in load {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .unwrap()
            .unwrap();
    }
    assert!(status.success(), "exit status {status:?}");
    assert!(tally.answered.load(Ordering::Relaxed) > 100, "the load ran");
    assert_eq!(
        tally.failed.load(Ordering::Relaxed),
        0,
        "an accepted request failed"
    );
}
