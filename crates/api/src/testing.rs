//! The application under test (feature `testing`): a real server on
//! 127.0.0.1:0 over a test database, mails captured in memory, and the
//! request helpers every test crate uses. Databases and the per-backend
//! macro come from `recofinement_store::testing`.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use recofinement_store::Db;
pub use recofinement_store::testing::{Backend, Fixture, TestDb};

use crate::mail::{Mailer, MemoryTransport};
use crate::state::EngineHooks;
use crate::{ApiConfig, AppState, Secret};

/// The password every test account gets.
pub const PASSWORD: &str = "goodPassword!123";

/// The settings tests run with: the production defaults, but a known key and
/// the cheapest bcrypt cost.
pub fn test_config() -> ApiConfig {
    ApiConfig {
        secret_key: Secret::new("test-secret-key-of-some-length"),
        url_front: "http://front.test".into(),
        bcrypt_cost: 4,
        bcrypt_concurrency: 2,
        // Stories register many accounts from one address.
        requests_per_client: 1000,
        submissions_per_user: 1000,
        ..ApiConfig::default()
    }
}

/// How to start a [`TestServer`]; `Default` is the plain API.
#[derive(Default)]
pub struct ServerOptions {
    pub config: Option<ApiConfig>,
    pub mailer: Option<Mailer>,
    pub engine: Option<Arc<dyn EngineHooks>>,
    /// Socket.IO rooms through this Redis.
    pub redis: Option<String>,
    /// Connection limits other than the defaults.
    pub limits: Option<crate::server::ServerLimits>,
    /// Never apply the database's change notices (see
    /// [`AppState::deaf_to_notices`]).
    pub deaf_to_notices: bool,
}

/// One running instance of the API.
pub struct TestServer {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub db: Db,
    /// Mails sent through the default in-memory transport.
    pub mails: MemoryTransport,
}

impl TestServer {
    /// Starts an instance on `db` (several may share one database).
    pub async fn start(db: Db, options: ServerOptions) -> TestServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mails = MemoryTransport::default();
        let mailer = options.mailer.unwrap_or_else(|| Mailer::new(mails.clone()));
        let mut state = AppState::new(
            db.clone(),
            options.config.unwrap_or_else(test_config),
            mailer,
        );
        if let Some(engine) = options.engine {
            state = state.with_engine(engine);
        }
        if options.deaf_to_notices {
            state = state.deaf_to_notices();
        }
        let app = match options.redis {
            Some(url) => crate::router_with_redis(state, &url).await.expect("redis"),
            None => crate::router(state),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let limits = options.limits.unwrap_or_default();
        tokio::spawn(crate::server::serve(
            listener,
            app,
            limits,
            std::future::pending(),
        ));
        TestServer {
            address,
            client: reqwest::Client::new(),
            db,
            mails,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Sends a request; returns the status and the JSON body (Null if none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// A `PUT` without a body (liking a genre, joining, accepting…).
    pub async fn put(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), None).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Revokes `token` (`POST /api/auth/logout`).
    pub async fn logout(&self, token: &str) -> (StatusCode, Value) {
        self.call(Method::POST, "/api/auth/logout", Some(token), None)
            .await
    }

    /// The OpenAPI document the server serves (`/api/swagger.json`).
    pub async fn document(&self) -> Value {
        let response = self
            .client
            .get(self.url("/api/swagger.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Registers `username@example.com`; returns (token, uuid).
    pub async fn register(&self, username: &str) -> (String, String) {
        let body = json!({"email": format!("{username}@example.com"), "username": username, "password": PASSWORD});
        let (status, body) = self.post("/api/auth/register", None, body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["access_token"].as_str().unwrap().to_string(),
            body["user"]["uuid"].as_str().unwrap().to_string(),
        )
    }

    /// Registers an account and makes it an administrator; returns a fresh
    /// token (permissions are read at login) and the uuid.
    pub async fn register_admin(&self, username: &str) -> (String, String) {
        let (_, uuid) = self.register(username).await;
        self.db
            .grant_role(&format!("{username}@example.com"), "admin")
            .await
            .unwrap();
        let token = self
            .login(&format!("{username}@example.com"), PASSWORD)
            .await;
        (token, uuid)
    }

    /// A token for a new account, an administrator's when `admin`.
    pub async fn account(&self, username: &str, admin: bool) -> String {
        if admin {
            self.register_admin(username).await.0
        } else {
            self.register(username).await.0
        }
    }

    /// Logs in; the login must succeed.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let body = json!({"email": email, "password": password});
        let (status, body) = self.post("/api/auth/login", None, body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Creates a sandbox profile; returns its uuid.
    pub async fn profile(&self, token: &str, name: &str) -> String {
        let (status, body) = self
            .post("/api/profile", Some(token), json!({"profilename": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["profile"]["uuid"].as_str().unwrap().to_string()
    }

    /// Proposes an item with an admin token and accepts it; returns its content id.
    pub async fn add_item(&self, admin: &str, media: &str, body: Value) -> i64 {
        let (status, answer) = self.post(&format!("/api/{media}"), Some(admin), body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let id = answer["content"]
            .as_object()
            .and_then(|content| content.values().next())
            .and_then(Value::as_i64)
            .expect("the proposal's id");
        let path = format!("/api/{media}/additional/{id}");
        let (status, answer) = self.call(Method::PUT, &path, Some(admin), None).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let newest = "SELECT MAX(content_id) FROM content WHERE content_type <> 'EPISODE'";
        recofinement_store::testing::scalar(&self.db, newest).await
    }
}

/// A fresh database with one API instance on it: what most HTTP tests need.
pub struct TestApp {
    pub backend: Backend,
    pub server: TestServer,
    /// Owns the database (its files or schema go when the app is dropped).
    pub test_db: TestDb,
}

impl Fixture for TestApp {
    async fn start(backend: Backend) -> Self {
        TestApp::spawn_with(backend, ServerOptions::default()).await
    }
}

impl std::ops::Deref for TestApp {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.server
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, ServerOptions::default()).await
    }

    pub async fn spawn_with(backend: Backend, options: ServerOptions) -> TestApp {
        let test_db = TestDb::fresh(backend).await;
        let server = TestServer::start(test_db.db.clone(), options).await;
        TestApp {
            backend,
            server,
            test_db,
        }
    }

    /// A new app on the same backend (and a new database) with other settings.
    pub async fn respawn(self, config: ApiConfig, mailer: Option<Mailer>) -> TestApp {
        let backend = self.backend;
        drop(self);
        let options = ServerOptions {
            config: Some(config),
            mailer,
            ..ServerOptions::default()
        };
        Self::spawn_with(backend, options).await
    }

    /// Runs statements on the test database (fixtures the API cannot create).
    pub async fn sql(&self, statement: &str) {
        self.test_db.sql(statement).await;
    }

    /// Creates a genre directly (there is no endpoint for it); returns its id.
    pub async fn genre(&self, id: i64, name: &str, label: &str, count: i64) -> i64 {
        self.sql(&format!(
            "INSERT INTO genre (genre_id, name, count, content_type) VALUES ({id}, '{name}', {count}, '{label}')"
        ))
        .await;
        id
    }

    pub async fn newest_content_id(&self) -> i64 {
        self.scalar_i64("SELECT MAX(content_id) FROM content WHERE content_type <> 'EPISODE'")
            .await
    }

    /// One number read from the database.
    pub async fn scalar_f64(&self, sql: &str) -> Option<f64> {
        self.test_db.scalar_f64(sql).await
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        self.test_db.scalar(sql).await
    }
}

/// Asserts the error envelope: `status: false` and a message.
pub fn assert_error(body: &Value) {
    assert_eq!(body["status"], json!(false), "{body}");
    assert!(body["message"].is_string(), "{body}");
}
