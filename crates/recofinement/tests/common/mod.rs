//! Helpers shared by the tests that run whole servers: a minimal Socket.IO
//! client and a server started on port 0 with its engine attached.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use recofinement::engine_runner::{EngineBridge, EngineRunner};
use recofinement_api::mail::{Mailer, MemoryTransport};
use recofinement_api::{ApiConfig, AppState, Secret};
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
        assert!(answer.status().is_success(), "{}", answer.status());
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

pub struct Server {
    pub address: std::net::SocketAddr,
    http: reqwest::Client,
}

impl Server {
    pub async fn start(t: &TestDb) -> Server {
        Self::start_with(t, None).await
    }

    /// A server whose Socket.IO rooms go through Redis when `redis` is given.
    pub async fn start_with(t: &TestDb, redis: Option<&str>) -> Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = ApiConfig {
            secret_key: Secret::new("socket-test-secret-key"),
            bcrypt_cost: 4,
            ..ApiConfig::default()
        };
        let runner = Arc::new(EngineRunner::new(t.db.clone(), 2).unwrap());
        let bridge = EngineBridge {
            wake: Arc::new(tokio::sync::Notify::new()),
            runner,
        };
        let state = AppState::new(
            t.db.clone(),
            config,
            Mailer::new(MemoryTransport::default()),
        )
        .with_engine(Arc::new(bridge));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = match redis {
            Some(url) => recofinement_api::router_with_redis(state, url)
                .await
                .expect("redis"),
            None => recofinement_api::router(state),
        };
        tokio::spawn(recofinement_api::serve(
            listener,
            app,
            std::future::pending(),
        ));
        Server {
            address,
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut request = self
            .http
            .request(method, format!("http://{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    /// Registers an account (an administrator when `admin`); returns a fresh token.
    pub async fn account(&self, t: &TestDb, name: &str, admin: bool) -> String {
        let email = format!("{name}@example.com");
        let body = json!({"email": email, "username": name, "password": "goodPassword!123"});
        self.call(
            reqwest::Method::POST,
            "/api/auth/register",
            None,
            Some(body),
        )
        .await;
        if admin {
            t.db.grant_role(&email, "admin").await.unwrap();
        }
        let login = json!({"email": email, "password": "goodPassword!123"});
        let answer = self
            .call(reqwest::Method::POST, "/api/auth/login", None, Some(login))
            .await;
        answer["access_token"].as_str().unwrap().to_string()
    }

    pub async fn profile(&self, token: &str, name: &str) -> String {
        let answer = self
            .call(
                reqwest::Method::POST,
                "/api/profile",
                Some(token),
                Some(json!({"profilename": name})),
            )
            .await;
        answer["profile"]["uuid"].as_str().unwrap().to_string()
    }
}

/// Sends a request and reads its JSON answer.
pub async fn json_answer(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
