//! Helpers shared by the tests that run whole servers: a minimal Socket.IO
//! client and a server started on port 0 with its engine attached.

#![allow(dead_code)]

pub mod binary;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use recofinement::engine_runner::{EngineBridge, EngineRunner};
#[allow(unused_imports)]
pub use recofinement_api::testing::{PASSWORD, ServerOptions, TestServer};
use recofinement_store::testing::TestDb;

/// A minimal Socket.IO client on the polling transport.
pub struct SocketClient {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    inbox: VecDeque<String>,
}

impl SocketClient {
    /// Opens a session and connects to `/recommend`; `Err` carries the
    /// `connect_error` data.
    pub async fn connect(
        address: std::net::SocketAddr,
        token: Option<&str>,
    ) -> Result<SocketClient, Value> {
        let http = reqwest::Client::new();
        let base = format!("http://{address}/socket.io/?EIO=4&transport=polling");
        let mut request = http.get(&base);
        if let Some(token) = token {
            request = request.header("token", token);
        }
        let open = request.send().await.unwrap().text().await.unwrap();
        assert!(open.starts_with('0'), "engine.io open packet: {open}");
        let sid = serde_json::from_str::<Value>(&open[1..]).unwrap()["sid"]
            .as_str()
            .unwrap()
            .to_string();
        let mut client = SocketClient {
            http,
            url: format!("{base}&sid={sid}"),
            token: token.map(str::to_string),
            inbox: VecDeque::new(),
        };
        client.post("40/recommend,").await;
        loop {
            let packet = client.next_packet().await;
            if let Some(rest) = packet.strip_prefix("40/recommend,") {
                assert!(rest.contains("sid"), "{packet}");
                return Ok(client);
            }
            if let Some(rest) = packet.strip_prefix("44/recommend,") {
                return Err(serde_json::from_str(rest).unwrap());
            }
        }
    }

    async fn post(&self, body: &str) {
        let mut request = self.http.post(&self.url).body(body.to_string());
        if let Some(token) = &self.token {
            request = request.header("token", token);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        assert!(status.is_success(), "{status} {text} (posting {body})");
    }

    pub async fn emit(&self, event: &str, data: Option<Value>) {
        let payload = match data {
            Some(data) => json!([event, data]),
            None => json!([event]),
        };
        self.post(&format!("42/recommend,{payload}")).await;
    }

    /// The next Engine.IO packet, answering pings on the way.
    async fn next_packet(&mut self) -> String {
        loop {
            if let Some(packet) = self.inbox.pop_front() {
                if packet == "2" {
                    self.post("3").await;
                    continue;
                }
                return packet;
            }
            let mut request = self.http.get(&self.url);
            if let Some(token) = &self.token {
                request = request.header("token", token);
            }
            let body = tokio::time::timeout(Duration::from_secs(30), request.send())
                .await
                .expect("poll timed out")
                .unwrap()
                .text()
                .await
                .unwrap();
            self.inbox.extend(
                body.split('\u{1e}')
                    .filter(|p| !p.is_empty())
                    .map(str::to_string),
            );
        }
    }

    /// The next `server_response` message.
    pub async fn response(&mut self) -> Value {
        loop {
            let packet = self.next_packet().await;
            if let Some(rest) = packet.strip_prefix("42/recommend,") {
                let event: Value = serde_json::from_str(rest).unwrap();
                assert_eq!(event[0], "server_response", "{event}");
                return event[1].clone();
            }
            if packet.starts_with("41/recommend") {
                panic!("disconnected by the server");
            }
        }
    }
}

/// An API instance on `t` with the engine attached (sandbox runs compute).
pub async fn server(t: &TestDb) -> TestServer {
    server_with(t, None).await
}

/// The same, with Socket.IO rooms through Redis when `redis` is given.
pub async fn server_with(t: &TestDb, redis: Option<&str>) -> TestServer {
    let runner = Arc::new(EngineRunner::new(t.db.clone(), 2).unwrap());
    let wake = Arc::new(tokio::sync::Notify::new());
    serve_forced_runs_when_asked(runner.clone(), wake.clone());
    let bridge = EngineBridge { wake, runner };
    let options = ServerOptions {
        engine: Some(Arc::new(bridge)),
        redis: redis.map(str::to_string),
        ..ServerOptions::default()
    };
    TestServer::start(t.db.clone(), options).await
}

/// Stands in for the scheduler's forced-run part: these servers run no
/// scheduler (its own runs would race the tests'), and a forced run asked
/// of them runs when the bridge wakes the scheduler.
fn serve_forced_runs_when_asked(runner: Arc<EngineRunner>, wake: Arc<tokio::sync::Notify>) {
    let runner = Arc::downgrade(&runner);
    tokio::spawn(async move {
        loop {
            wake.notified().await;
            let Some(runner) = runner.upgrade() else {
                return;
            };
            if let Err(error) = runner.serve_forced_runs().await {
                eprintln!("forced run failed: {error:#}");
            }
        }
    });
}

/// Sends a request and reads its JSON answer.
pub async fn json_answer(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
