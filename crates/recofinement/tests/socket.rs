//! The `/recommend` Socket.IO namespace driven by a real Socket.IO v5
//! client speaking Engine.IO v4 long-polling (what socket.io-client 3.x
//! starts with), against the whole server with its engine attached.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use recofinement::engine_runner::{EngineBridge, EngineRunner};
use recofinement_api::mail::{Mailer, MemoryTransport};
use recofinement_api::{ApiConfig, AppState, Secret};
use recofinement_store::backend_test;
use recofinement_store::testing::TestDb;

/// A minimal Socket.IO client on the polling transport.
struct SocketClient {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    inbox: VecDeque<String>,
}

impl SocketClient {
    /// Opens a session and connects to `/recommend`; `Err` carries the
    /// `connect_error` data.
    async fn connect(
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

    async fn emit(&self, event: &str, data: Option<Value>) {
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
    async fn response(&mut self) -> Value {
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

struct Server {
    address: std::net::SocketAddr,
    http: reqwest::Client,
}

impl Server {
    async fn start(t: &TestDb) -> Server {
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
        tokio::spawn(recofinement_api::serve(
            listener,
            recofinement_api::router(state),
            std::future::pending(),
        ));
        Server {
            address,
            http: reqwest::Client::new(),
        }
    }

    async fn call(
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
    async fn account(&self, t: &TestDb, name: &str, admin: bool) -> String {
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

    async fn profile(&self, token: &str, name: &str) -> String {
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

backend_test!(connections_are_refused_with_the_original_messages, |t| {
    let server = Server::start(&t).await;
    let user = server.account(&t, "plain", false).await;
    let admin = server.account(&t, "admin", true).await;
    let refusal = |r: Result<SocketClient, Value>| r.err().expect("refused")["message"].clone();
    assert_eq!(
        refusal(SocketClient::connect(server.address, None).await),
        "Token not found !"
    );
    assert_eq!(
        refusal(SocketClient::connect(server.address, Some("not.a.token")).await),
        "Unauthorized!"
    );
    assert_eq!(
        refusal(SocketClient::connect(server.address, Some(&user)).await),
        "Permission missing!"
    );
    server
        .call(
            reqwest::Method::POST,
            "/api/auth/logout",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        refusal(SocketClient::connect(server.address, Some(&admin)).await),
        "Unauthorized!"
    );
});

backend_test!(a_sandbox_run_reaches_every_tab_and_the_history, |t| {
    let server = Server::start(&t).await;
    let admin = server.account(&t, "admin", true).await;
    let other = server.account(&t, "other", true).await;
    let mine = server.profile(&admin, "mine").await;
    let theirs = server.profile(&other, "theirs").await;
    let mut tab = SocketClient::connect(server.address, Some(&admin))
        .await
        .expect("connected");
    assert_eq!(
        tab.response().await,
        json!({"on": "connect", "action": "connect", "message": "Connected"})
    );
    tab.emit("join", None).await;
    let joined = tab.response().await;
    assert_eq!(joined["message"], "Room successfully joined");
    assert!(joined["room"].as_str().unwrap().starts_with("user"));
    let mut second_tab = SocketClient::connect(server.address, Some(&admin))
        .await
        .expect("connected");
    second_tab.response().await;
    second_tab.emit("join", None).await;
    second_tab.response().await;
    tab.response().await; // the first tab hears the second join too
    // Bad payloads are answered to the sender only.
    tab.emit("recommend", Some(json!({}))).await;
    assert_eq!(
        tab.response().await["message"],
        "Error 400, data must contain 'profile_uuid' attr!"
    );
    tab.emit("recommend", Some(json!({"profile_uuid": "nope"})))
        .await;
    assert_eq!(
        tab.response().await["message"],
        "Error 400, 'profile_uuid' not valid uuid4!"
    );
    // Someone else's profile: always a final answer.
    tab.emit("recommend", Some(json!({"profile_uuid": theirs})))
        .await;
    assert_eq!(tab.response().await["message"], "Room joined");
    let outcome = tab.response().await;
    assert_eq!(outcome["action"], "recommend");
    assert_eq!(outcome["message"], "Error 404, Profile not found!");
    second_tab.response().await;
    second_tab.response().await;
    // One's own profile: the outcome reaches both tabs, the run its history.
    tab.emit("recommend", Some(json!({"profile_uuid": mine})))
        .await;
    assert_eq!(tab.response().await["message"], "Room joined");
    let outcome = tab.response().await;
    assert_eq!(
        outcome["message"], "200, Recommendation complete for this profile!",
        "{outcome}"
    );
    assert_eq!(
        outcome["profile"],
        json!({"uuid": mine, "profilename": "mine"})
    );
    assert_eq!(second_tab.response().await["message"], "Room joined");
    assert_eq!(
        second_tab.response().await["message"],
        "200, Recommendation complete for this profile!"
    );
    let history = server
        .call(
            reqwest::Method::GET,
            &format!("/api/profile/{mine}/history"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(history["content"].as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history["content"][0]["status"], "done");
});
