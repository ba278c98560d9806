//! The real binary as a child process, for the tests that kill, signal or
//! restart it: a command with the test environment, and a `serve` child
//! that is waited for until `/health` answers.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use recofinement_store::testing::TempDir;

use super::PASSWORD;

pub const BIN: &str = env!("CARGO_BIN_EXE_recofinement");

/// A free port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary with `DATABASE_URL` set, quiet logs, cheap bcrypt and fixed
/// keys (PostgreSQL keeps no keys: a server there needs them given).
pub fn command(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("DATABASE_URL", url)
        .env("LOGGING_LEVEL_ROOT", "warn")
        .env("BCRYPT_COST", "4")
        .env("ACCOUNT_REQUESTS_PER_CLIENT", "100000")
        .env(
            "SECRET_KEY",
            "4ef58c33e005e3dd2bfb215c4cb1bcd06b70b1740b36f150753ff5220c9f598a",
        )
        .env(
            "TOKEN_ENCRYPTION_KEY",
            "057a284f2b858552116392c02b3d57445b8bcd933b1803fc7e6441a33962147d",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    command
}

/// A `serve` child process; its log goes to a file (a pipe nobody reads
/// would stall it once full).
pub struct Server {
    pub child: Child,
    pub base: String,
    log: TempDir,
}

impl Server {
    /// `serve` on `url` with `args` after it and `extra_env`; returns once
    /// `/health` answers 200.
    pub async fn start(url: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Server {
        // reqwest is built without a default TLS provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = free_port().to_string();
        let mut all_args = vec!["serve", "--port", &port];
        all_args.extend_from_slice(args);
        let mut command = command(url, &all_args);
        command.envs(extra_env.iter().copied());
        let log = TempDir::new("server-log");
        let file = std::fs::File::create(log.0.join("serve.log")).unwrap();
        let child = command.stderr(file).spawn().unwrap();
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        for _ in 0..400 {
            if let Ok(answer) = client.get(server.url("/health")).send().await
                && answer.status().is_success()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not start:\n{}", server.log_text());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the server logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.0.join("serve.log")).unwrap_or_default()
    }

    /// Registers an account; the whole answer (it must carry a token).
    pub async fn register(&self, name: &str) -> Value {
        let body =
            json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD});
        let answer: Value = reqwest::Client::new()
            .post(self.url("/api/auth/register"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(answer["access_token"].is_string(), "registered: {answer}");
        answer
    }

    /// Registers an account; its token.
    pub async fn token(&self, name: &str) -> String {
        self.register(name).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// SIGKILL, and waits for the process to be gone.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}
