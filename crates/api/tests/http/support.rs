//! `spawn_app()`: a real server on 127.0.0.1:0 over a fresh database, with
//! mails captured in memory, and small helpers to call it.

use std::net::SocketAddr;

use recofinement_api::mail::{Mailer, MemoryTransport};
use recofinement_api::{ApiConfig, AppState, Secret};
use recofinement_store::Db;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Declares a test that runs once per backend: `name::sqlite` always and
/// `name::postgres` when TEST_DATABASE_URL points at PostgreSQL.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn scenario($app: $crate::support::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                scenario($crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::support::TestApp::spawn_postgres().await {
                    scenario(app).await;
                }
            }
        }
    };
}

pub use recofinement_store::testing::Backend;
use recofinement_store::testing::TestDb;

pub struct TestApp {
    pub backend: Backend,
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub db: Db,
    pub mails: MemoryTransport,
    /// Owns the database (its files go when the app is dropped).
    pub test_db: TestDb,
}

pub fn test_config() -> ApiConfig {
    ApiConfig {
        secret_key: Secret::new("test-secret-key-of-some-length"),
        url_front: "http://front.test".into(),
        bcrypt_cost: 4,
        bcrypt_concurrency: 2,
        // Tests change the catalogue behind the API's back: no shared-list cache.
        list_cache_ttl: std::time::Duration::ZERO,
        // Stories register many accounts from one address.
        requests_per_client: 1000,
        ..ApiConfig::default()
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, test_config(), None).await
    }

    pub async fn spawn_postgres() -> Option<TestApp> {
        recofinement_store::testing::postgres_url()?;
        Some(Self::spawn(Backend::Postgres).await)
    }

    pub async fn spawn_with(
        backend: Backend,
        config: ApiConfig,
        transport: Option<Mailer>,
    ) -> TestApp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let test_db = TestDb::fresh(backend).await.expect("test database");
        let db = test_db.db.clone();
        let mails = MemoryTransport::default();
        let mailer = transport.unwrap_or_else(|| Mailer::new(mails.clone()));
        let state = AppState::new(db.clone(), config, mailer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = recofinement_api::router(state);
        tokio::spawn(recofinement_api::serve(
            listener,
            app,
            std::future::pending(),
        ));
        TestApp {
            backend,
            address,
            client: reqwest::Client::new(),
            db,
            mails,
            test_db,
        }
    }

    /// A new app on the same backend with other settings or mail transport.
    pub async fn respawn(self, config: ApiConfig, transport: Option<Mailer>) -> TestApp {
        let backend = self.backend;
        drop(self);
        Self::spawn_with(backend, config, transport).await
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

    /// Registers an account; returns (token, uuid).
    pub async fn register(&self, username: &str) -> (String, String) {
        let (status, body) = self
            .post(
                "/api/auth/register",
                None,
                json!({"email": format!("{username}@example.com"), "username": username, "password": "goodPassword!123"}),
            )
            .await;
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
            .login(&format!("{username}@example.com"), "goodPassword!123")
            .await;
        (token, uuid)
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

    /// Proposes an item with an admin token and accepts it; returns its content id.
    pub async fn add_item(&self, admin: &str, media: &str, body: Value) -> i64 {
        let (status, answer) = self.post(&format!("/api/{media}"), Some(admin), body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let id = answer["content"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_i64()
            .unwrap();
        let (status, answer) = self
            .call(
                Method::PUT,
                &format!("/api/{media}/additional/{id}"),
                Some(admin),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        self.newest_content_id().await
    }

    pub async fn newest_content_id(&self) -> i64 {
        self.scalar_i64("SELECT MAX(content_id) FROM content WHERE content_type <> 'EPISODE'")
            .await
    }

    /// One number read from the database.
    pub async fn scalar_f64(&self, sql: &str) -> Option<f64> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_as::<_, (Option<f64>,)>(sql)
                    .fetch_one(pool)
                    .await
                    .unwrap()
                    .0
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, (Option<f64>,)>(sql)
                    .fetch_one(pool)
                    .await
                    .unwrap()
                    .0
            }
        }
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        self.test_db.scalar(sql).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }
}

/// Asserts the error envelope: `status: false` and a message.
pub fn assert_error(body: &Value) {
    assert_eq!(body["status"], json!(false), "{body}");
    assert!(body["message"].is_string(), "{body}");
}
