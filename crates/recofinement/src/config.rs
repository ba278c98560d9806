//! Every setting, as a flag and an environment variable (`--help` lists
//! them). Secrets are hidden from `--help` values and from `Debug`.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "recofinement",
    version,
    about = "RecoFinement: API, recommendation engine and tooling in one program"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default when no command is given).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Load a RecoFinement-Datasets directory (the CSV files of spec §13)
    /// into the database; a re-run adds nothing twice.
    Import {
        /// Directory holding genres.csv, content.csv, … meta_user_content_*.csv.
        dir: std::path::PathBuf,
    },
    /// Write a synthetic dataset in the same CSV layout.
    Generate {
        /// Output directory (created if missing).
        #[arg(long)]
        out: std::path::PathBuf,
        #[command(flatten)]
        size: DatasetSize,
    },
    /// Run, evaluate or host the recommendation engines.
    #[command(subcommand)]
    Engine(crate::engine_cli::EngineCommand),
    /// Make or rotate the installation's keys.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Copy the live SQLite database into FILE (on PostgreSQL: prints the pg_dump command).
    Backup {
        /// The copy to write (must not exist).
        file: std::path::PathBuf,
    },
    /// Put a backup back in place of the SQLite database (refused while a
    /// server holds it; on PostgreSQL: prints the pg_restore command).
    Restore {
        /// A file written by `backup`.
        file: std::path::PathBuf,
    },
    /// Write the catalogue, accounts and interactions in the dataset layout
    /// that `import` reads.
    Export {
        /// Output directory (created if missing; its dataset files are replaced).
        dir: std::path::PathBuf,
    },
    /// Generate a small dataset, import it when the catalogue is empty, then serve.
    Demo {
        #[command(flatten)]
        size: DatasetSize,
    },
}

/// Size and seed of a generated dataset (defaults: the demo's small set).
#[derive(Args, Debug, Clone, Copy)]
pub struct DatasetSize {
    /// Users.
    #[arg(long, default_value_t = recofinement::generate::DEMO.users)]
    pub users: usize,
    /// Items over the six kinds (episodes come on top).
    #[arg(long, default_value_t = recofinement::generate::DEMO.items)]
    pub items: usize,
    /// User-item interactions.
    #[arg(long, default_value_t = recofinement::generate::DEMO.interactions)]
    pub interactions: usize,
    /// Random seed: the same seed writes the same files.
    #[arg(long, default_value_t = recofinement::generate::DEMO.seed)]
    pub seed: u64,
    /// Share of the users that can log in (password `Generated!2024`), e.g.
    /// `10%`; the others are dataset accounts, which are no engine subjects.
    #[arg(long, default_value = "0%")]
    pub accounts: recofinement::generate::Accounts,
}

impl DatasetSize {
    pub fn options(self) -> recofinement::generate::GeneratePlan {
        recofinement::generate::GeneratePlan {
            options: recofinement::generate::GenerateOptions {
                users: self.users,
                items: self.items,
                interactions: self.interactions,
                seed: self.seed,
            },
            accounts: self.accounts,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Give a role (default `admin`) to an existing account.
    Grant {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Take a role (default `admin`) from an account.
    Revoke {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Create an administrator account directly.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Print a new random key (64 hexadecimal characters), good for
    /// SECRET_KEY and TOKEN_ENCRYPTION_KEY.
    Generate,
    /// Re-encrypt every stored provider token with TOKEN_ENCRYPTION_KEY,
    /// opening it with TOKEN_ENCRYPTION_KEY_PREVIOUS where needed.
    Rotate,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum MailTransportKind {
    Log,
    Smtp,
    Mailjet,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct Settings {
    /// Database URL: sqlite://FILE (created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://recofinement.db",
        global = true
    )]
    pub database_url: String,
    /// Largest number of pooled database connections.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 16, global = true)]
    pub db_max_connections: u32,
    /// Serve the API only: leave the engines to `recofinement engine worker`
    /// or another instance.
    #[arg(long, env = "NO_ENGINE", global = true)]
    pub no_engine: bool,
    /// Threads the engines compute with (default: cores - 1 when serving, all cores otherwise).
    #[arg(long, env = "ENGINE_THREADS", global = true)]
    pub engine_threads: Option<usize>,
    /// Seconds between two checks of the event log by the engine scheduler.
    #[arg(long, env = "ENGINE_TICK_SECS", default_value_t = 30, global = true)]
    pub engine_tick_secs: u64,
    /// Shortest time between two collaborative-filtering retrains, in
    /// seconds, however many interactions pile up (`--force` ignores it).
    #[arg(
        long,
        env = "CF_MIN_INTERVAL_SECS",
        default_value_t = 600,
        global = true
    )]
    pub cf_min_interval_secs: u64,
    /// Sandbox runs computing at once in this instance.
    #[arg(long, env = "SANDBOX_MAX_RUNS", default_value_t = 2, global = true)]
    pub sandbox_max_runs: usize,
    /// Sandbox runs computing at once across every instance on the database.
    #[arg(
        long,
        env = "SANDBOX_MAX_RUNS_TOTAL",
        default_value_t = 4,
        global = true
    )]
    pub sandbox_max_runs_total: i64,
    /// Redis URL: Socket.IO rooms are shared through it, so several
    /// instances behind one load balancer behave as one.
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// Seconds this instance reuses answers asked for again and again
    /// (popular lists and search, the same for every caller; each caller's
    /// own account) unless a change to them is announced first; 0 disables
    /// the cache.
    #[arg(long, env = "LIST_CACHE_SECS", default_value_t = 5, global = true)]
    pub list_cache_secs: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed: addresses and
    /// CIDR ranges, comma separated. The client is the rightmost forwarded
    /// address that is not one of them; without any, the peer address.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<String>,
    /// Seconds a sandbox run may take before its socket reports a timeout.
    #[arg(
        long,
        env = "SANDBOX_TIMEOUT_SECS",
        default_value_t = 300,
        global = true
    )]
    pub sandbox_timeout_secs: u64,
    /// Address of the Prometheus metrics listener (`GET /metrics`), e.g.
    /// 127.0.0.1:9464; no metrics when unset.
    #[arg(long, env = "METRICS_ADDR", global = true)]
    pub metrics_addr: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "SERVICE_HOST", default_value = "127.0.0.1", global = true)]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "SERVICE_PORT", default_value_t = 4040, global = true)]
    pub port: u16,
    /// HMAC key of the access tokens. Required with PostgreSQL; on SQLite,
    /// when unset, one is generated once into the key file beside the database.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<String>,
    /// The HMAC key before a rotation: tokens it signed stay valid until they expire.
    #[arg(
        long,
        env = "SECRET_KEY_PREVIOUS",
        hide_env_values = true,
        global = true
    )]
    pub secret_key_previous: Option<String>,
    /// Public base URL of the web client (links in mails).
    #[arg(
        long,
        env = "URL_FRONT",
        default_value = "http://localhost:4200",
        global = true
    )]
    pub url_front: String,
    /// Client path of the password-reset page; the token is appended.
    #[arg(long, env = "RESET_PATH", default_value = "/app/reset/", global = true)]
    pub reset_path: String,
    /// Seconds a mailed password-reset link stays valid.
    #[arg(long, env = "RESET_TOKEN_SECS", default_value_t = 3600, global = true)]
    pub reset_token_secs: u64,
    /// bcrypt cost of new password hashes.
    #[arg(long, env = "BCRYPT_COST", default_value_t = 12, global = true)]
    pub bcrypt_cost: u32,
    /// bcrypt computations at once, on threads of lower priority than the
    /// request handlers (default: the number of cores).
    #[arg(long, env = "BCRYPT_CONCURRENCY", global = true)]
    pub bcrypt_concurrency: Option<usize>,
    /// Scheduling niceness of the bcrypt threads, 0 (the request handlers'
    /// own) to 19: higher leaves more of a busy machine to other requests,
    /// lower lets logins through faster under load.
    #[arg(long, env = "BCRYPT_NICENESS", default_value_t = recofinement_api::auth::password::DEFAULT_BCRYPT_NICENESS,
        value_parser = clap::value_parser!(i32).range(0..=19), global = true)]
    pub bcrypt_niceness: i32,
    /// Allowed CORS origins, comma separated; unset allows the origin of
    /// URL_FRONT only, `*` any origin.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,
    /// Failed logins of one account from one client within the window before 429.
    #[arg(
        long,
        env = "LOGIN_MAX_FAILURES_PER_ACCOUNT",
        default_value_t = 10,
        global = true
    )]
    pub login_max_failures_per_account: i64,
    /// Failed logins per client address within the window before 429.
    #[arg(
        long,
        env = "LOGIN_MAX_FAILURES_PER_CLIENT",
        default_value_t = 100,
        global = true
    )]
    pub login_max_failures_per_client: i64,
    /// Failed logins of one account from all clients within the window
    /// before 429 (a ceiling against guessing from many addresses).
    #[arg(
        long,
        env = "LOGIN_ACCOUNT_CEILING",
        default_value_t = 50,
        global = true
    )]
    pub login_account_ceiling: i64,
    /// Registrations and password-reset requests per client address within the window.
    #[arg(
        long,
        env = "ACCOUNT_REQUESTS_PER_CLIENT",
        default_value_t = 20,
        global = true
    )]
    pub account_requests_per_client: i64,
    /// Registrations and password-reset requests per e-mail address within the window.
    #[arg(
        long,
        env = "ACCOUNT_REQUESTS_PER_EMAIL",
        default_value_t = 5,
        global = true
    )]
    pub account_requests_per_email: i64,
    /// Proposals of new items per user within the window.
    #[arg(
        long,
        env = "SUBMISSIONS_PER_USER",
        default_value_t = 30,
        global = true
    )]
    pub submissions_per_user: i64,
    /// Requests to link an external service per user within the window.
    #[arg(
        long,
        env = "LINK_REQUESTS_PER_USER",
        default_value_t = 20,
        global = true
    )]
    pub link_requests_per_user: i64,
    /// Length of the throttling window, in seconds.
    #[arg(long, env = "LOGIN_WINDOW_SECS", default_value_t = 900, global = true)]
    pub login_window_secs: u64,
    /// Seconds after which a request is abandoned with 503.
    #[arg(
        long,
        env = "REQUEST_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_secs: u64,
    /// Seconds a client has to send a request's headers before the
    /// connection is closed (slow clients cannot hold connections).
    #[arg(
        long,
        env = "HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub header_read_timeout_secs: u64,
    /// Open connections at most; more wait to be accepted.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 4096, global = true)]
    pub max_connections: usize,
    /// Days consumed events and finished import records are kept.
    #[arg(
        long,
        env = "EVENT_RETENTION_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub event_retention_days: u64,
    /// Seconds requests in flight may run on after SIGTERM or Ctrl-C.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 30, global = true)]
    pub shutdown_grace_secs: u64,
    /// Log level or filter (e.g. `info`, `recofinement=debug`).
    #[arg(
        long,
        env = "LOGGING_LEVEL_ROOT",
        default_value = "info",
        global = true
    )]
    pub log_level: String,
    /// Log format.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// How mails leave: `log` writes them to the log (offline default).
    #[arg(
        long,
        env = "MAIL_TRANSPORT",
        value_enum,
        default_value = "log",
        global = true
    )]
    pub mail_transport: MailTransportKind,
    /// With the log transport, also append whole mails (links included) to this file.
    #[arg(long, env = "MAIL_OUTBOX", global = true)]
    pub mail_outbox: Option<std::path::PathBuf>,
    #[arg(long, env = "SMTP_HOST", default_value = "localhost", global = true)]
    pub smtp_host: String,
    #[arg(long, env = "SMTP_PORT", default_value_t = 587, global = true)]
    pub smtp_port: u16,
    #[arg(long, env = "SMTP_USERNAME", global = true)]
    pub smtp_username: Option<String>,
    #[arg(long, env = "SMTP_PASSWORD", hide_env_values = true, global = true)]
    pub smtp_password: Option<String>,
    /// Use STARTTLS (off only for a local relay).
    #[arg(long, env = "SMTP_TLS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub smtp_tls: bool,
    #[arg(long, env = "MJ_APIKEY_PUBLIC", global = true)]
    pub mailjet_public_key: Option<String>,
    #[arg(long, env = "MJ_APIKEY_PRIVATE", hide_env_values = true, global = true)]
    pub mailjet_private_key: Option<String>,
    #[arg(
        long,
        env = "MAILJET_BASE_URL",
        default_value = "https://api.mailjet.com",
        global = true
    )]
    pub mailjet_base_url: String,
    /// Key of the provider tokens at rest (64 hexadecimal characters).
    /// Required with PostgreSQL; on SQLite, when unset, generated once into
    /// the key file beside the database.
    #[arg(
        long,
        env = "TOKEN_ENCRYPTION_KEY",
        hide_env_values = true,
        global = true
    )]
    pub token_encryption_key: Option<String>,
    /// The token key before a rotation: still opens the tokens it sealed
    /// until `recofinement secret rotate` has re-encrypted them.
    #[arg(
        long,
        env = "TOKEN_ENCRYPTION_KEY_PREVIOUS",
        hide_env_values = true,
        global = true
    )]
    pub token_encryption_key_previous: Option<String>,
    /// Spotify application id (Spotify linking is off without it).
    #[arg(long, env = "SPOTIFY_CLIENT_ID", global = true)]
    pub spotify_client_id: Option<String>,
    #[arg(
        long,
        env = "SPOTIFY_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub spotify_client_secret: Option<String>,
    #[arg(
        long,
        env = "SPOTIFY_AUTH_URL",
        default_value = "https://accounts.spotify.com/authorize",
        global = true
    )]
    pub spotify_auth_url: String,
    #[arg(
        long,
        env = "SPOTIFY_TOKEN_URL",
        default_value = "https://accounts.spotify.com/api/token",
        global = true
    )]
    pub spotify_token_url: String,
    #[arg(
        long,
        env = "SPOTIFY_API_URL",
        default_value = "https://api.spotify.com",
        global = true
    )]
    pub spotify_api_url: String,
    /// TMDB v3 API key (TMDB linking is off without it).
    #[arg(long, env = "TMDB_CLIENT_TOKEN", hide_env_values = true, global = true)]
    pub tmdb_client_token: Option<String>,
    #[arg(
        long,
        env = "TMDB_API_URL",
        default_value = "https://api.themoviedb.org",
        global = true
    )]
    pub tmdb_api_url: String,
    /// Site where users approve TMDB request tokens.
    #[arg(
        long,
        env = "TMDB_AUTH_URL",
        default_value = "https://www.themoviedb.org",
        global = true
    )]
    pub tmdb_auth_url: String,
    /// Google "web" OAuth client file (web.client_id, web.client_secret,
    /// web.auth_uri, web.token_uri); the GOOGLE_* settings override it.
    #[arg(long, env = "PATH_TO_GOOGLE_OAUTH_FILE", global = true)]
    pub google_oauth_file: Option<std::path::PathBuf>,
    /// Google OAuth client id (Google Books linking is off without it).
    #[arg(long, env = "GOOGLE_CLIENT_ID", global = true)]
    pub google_client_id: Option<String>,
    #[arg(
        long,
        env = "GOOGLE_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub google_client_secret: Option<String>,
    #[arg(long, env = "GOOGLE_AUTH_URL", global = true)]
    pub google_auth_url: Option<String>,
    #[arg(long, env = "GOOGLE_TOKEN_URL", global = true)]
    pub google_token_url: Option<String>,
    #[arg(
        long,
        env = "GOOGLE_BOOKS_API_URL",
        default_value = "https://www.googleapis.com",
        global = true
    )]
    pub google_books_api_url: String,
    /// Seconds one provider call may take.
    #[arg(
        long,
        env = "EXTERNAL_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub external_timeout_secs: u64,
    /// Seconds an import may spend collecting from its provider (its
    /// write, once the items are in hand, is not cut short).
    #[arg(
        long,
        env = "IMPORT_TIMEOUT_SECS",
        default_value_t = 300,
        global = true
    )]
    pub import_timeout_secs: u64,
    /// Imports running at once.
    #[arg(long, env = "IMPORT_WORKERS", default_value_t = 2, global = true)]
    pub import_workers: usize,
}

impl Settings {
    pub fn given_keys(&self) -> recofinement::secrets::GivenKeys {
        let set = |v: &Option<String>| v.clone().filter(|k| !k.is_empty());
        recofinement::secrets::GivenKeys {
            secret_key: set(&self.secret_key),
            secret_key_previous: set(&self.secret_key_previous),
            token_key: set(&self.token_encryption_key),
            token_key_previous: set(&self.token_encryption_key_previous),
        }
    }

    pub fn bcrypt_concurrency(&self) -> usize {
        self.bcrypt_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(std::num::NonZeroUsize::get)
                .unwrap_or(1)
        })
    }

    pub fn cf_min_interval(&self) -> Duration {
        Duration::from_secs(self.cf_min_interval_secs)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }

    /// What the hourly purge keeps.
    pub fn retention(&self) -> recofinement_store::retention::Retention {
        recofinement_store::retention::Retention {
            keep: Duration::from_secs(self.event_retention_days.saturating_mul(86_400)),
            throttle_window: Duration::from_secs(self.login_window_secs.max(1)),
            sandbox_timeout: Duration::from_secs(self.sandbox_timeout_secs.max(1)),
        }
    }

    /// The connection loop's limits.
    pub fn server_limits(&self) -> recofinement_api::server::ServerLimits {
        recofinement_api::server::ServerLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            max_connections: self.max_connections.max(1),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            ..Default::default()
        }
    }
}
