//! Shared state of the running API and its settings.

use recofinement_store::changes::{Heard, ListChange};
use std::sync::Arc;
use std::time::Duration;

use recofinement_domain::EngineName;
use recofinement_store::Db;

use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasher;
use crate::mail::Mailer;

/// Settings the API reads at run time (the binary fills them from flags and
/// environment variables).
#[derive(Clone)]
pub struct ApiConfig {
    /// HMAC key of the access tokens. Never printed.
    pub secret_key: Secret,
    /// The HMAC key before a rotation: verifies tokens until they expire.
    pub previous_secret_key: Option<Secret>,
    /// Public base URL of the web client, used in mails.
    pub url_front: String,
    /// Client path of the reset page; the token is appended (D31).
    pub reset_path: String,
    pub access_token_ttl: Duration,
    pub reset_token_ttl: Duration,
    pub bcrypt_cost: u32,
    /// How many bcrypt computations may run at once.
    pub bcrypt_concurrency: usize,
    /// Scheduling niceness of the bcrypt threads (0 to 19).
    pub bcrypt_niceness: i32,
    /// Allowed CORS origins; empty means the origin of `url_front` (D7),
    /// `*` any origin.
    pub cors_origins: Vec<String>,
    pub login_window: Duration,
    /// Failed logins of one account from one client per window.
    pub login_max_failures_per_account: i64,
    pub login_max_failures_per_client: i64,
    /// Failed logins of one account over every client per window: higher
    /// than the per-client limit, so a guesser cannot lock the owner out
    /// quickly, but bounded against many addresses.
    pub login_account_ceiling: i64,
    /// Registrations and reset requests per client address per window.
    pub requests_per_client: i64,
    /// Registrations and reset requests per e-mail address per window.
    pub requests_per_email: i64,
    /// Proposals of new items per user per window (each is stored until a
    /// validator decides).
    pub submissions_per_user: i64,
    /// Link requests to external services per user per window (each
    /// stores an OAuth state, or calls TMDB with the installation's key).
    pub link_requests_per_user: i64,
    pub request_timeout: Duration,
    /// Longest a sandbox run may take before its socket gets a timeout error.
    pub sandbox_timeout: Duration,
    /// Sandbox runs computing at once in this instance.
    pub sandbox_max_runs: usize,
    /// Sandbox runs computing at once across every instance on the database.
    pub sandbox_max_runs_total: i64,
    /// How long answers shared by every caller (popular lists, search) are reused.
    pub list_cache_ttl: Duration,
    /// Proxies whose `X-Forwarded-For` is believed (addresses and ranges);
    /// empty: the peer address is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Linked external services: providers, token key, import queue.
    pub external: crate::integrations::ExternalConfig,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            secret_key: Secret::new("change-me"),
            previous_secret_key: None,
            url_front: "http://localhost:4200".into(),
            reset_path: "/app/reset/".into(),
            access_token_ttl: Duration::from_secs(43_200),
            reset_token_ttl: Duration::from_secs(3600),
            bcrypt_cost: 12,
            bcrypt_concurrency: 1,
            bcrypt_niceness: crate::auth::password::DEFAULT_BCRYPT_NICENESS,
            cors_origins: Vec::new(),
            login_window: Duration::from_secs(15 * 60),
            login_max_failures_per_account: 10,
            login_max_failures_per_client: 100,
            login_account_ceiling: 50,
            requests_per_client: 20,
            requests_per_email: 5,
            submissions_per_user: 30,
            link_requests_per_user: 20,
            request_timeout: Duration::from_secs(30),
            sandbox_timeout: Duration::from_secs(300),
            sandbox_max_runs: 2,
            sandbox_max_runs_total: 4,
            list_cache_ttl: Duration::from_secs(5),
            trusted_proxies: Vec::new(),
            external: Default::default(),
        }
    }
}

/// A secret string whose `Debug` does not show it.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What the API tells the recommendation engine, which runs beside it in
/// the binary (the API never depends on the engine itself).
pub trait EngineHooks: Send + Sync {
    /// A user's declared interests changed: recompute their profile-based
    /// recommendations soon (cold start).
    fn user_changed(&self, user_id: i64);

    /// A user rated or consumed something: refresh the lists that can
    /// follow them at once (collaborative filtering folds them in).
    fn interactions_changed(&self, _user_id: i64) {}

    /// Computes the sandbox run `run_id` (its snapshot is stored) and stores
    /// its results; answers how many result rows it wrote.
    fn run_profile(
        &self,
        run_id: i64,
    ) -> futures::future::BoxFuture<'static, Result<usize, SandboxError>>;

    /// The engines a forced run of `engines` (all when empty) runs, in
    /// their order, or why none can. Nothing starts here: the request is
    /// stored, and the scheduler, on whichever instance holds the engine
    /// lock, runs it ([`EngineHooks::forced_runs_requested`]).
    fn forced_run_plan(&self, _engines: &[EngineName]) -> Result<Vec<EngineName>, NoEngineToRun> {
        Err(NoEngineToRun)
    }

    /// Forced runs were stored: a scheduler in this process takes them now
    /// rather than at its next check.
    fn forced_runs_requested(&self) {}

    /// This instance's part in the engine scheduling: `scheduler` (holds
    /// the lock), `standby` (waits for it), or `None` without a scheduler.
    fn scheduler_role(&self) -> Option<&'static str> {
        None
    }

    /// When each engine runs by itself (none when no engine is attached).
    fn cadences(&self) -> Vec<EngineCadence> {
        Vec::new()
    }

    /// Completes when the process starts shutting down (never without an
    /// engine): Socket.IO sessions then send their last outcomes and close.
    fn stopping(&self) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(std::future::pending())
    }
}

/// A forced run was refused: this process hosts no engine
/// (`serve --no-engine`, tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoEngineToRun;

/// An engine runs every `every`, or sooner once `events` relevant events
/// piled up.
#[derive(Clone, Debug)]
pub struct EngineCadence {
    pub engine: &'static str,
    pub every: Duration,
    pub events: i64,
}

/// Why a sandbox run produced no results.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("no recommendation engine is attached to this server")]
    NoEngine,
    /// Stopped by a shutdown before it finished: nothing was stored.
    #[error("the sandbox computation was interrupted by a shutdown")]
    Interrupted,
    #[error("the sandbox computation failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// No engine attached (tests, `serve --no-engine`): the scheduler of another
/// instance picks changes up from the event log and the interests tables.
pub struct NoEngine;

impl EngineHooks for NoEngine {
    fn user_changed(&self, _user_id: i64) {}

    fn run_profile(
        &self,
        _run_id: i64,
    ) -> futures::future::BoxFuture<'static, Result<usize, SandboxError>> {
        Box::pin(async { Err(SandboxError::NoEngine) })
    }
}

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<ApiConfig>,
    pub jwt: Arc<JwtKeys>,
    pub hasher: PasswordHasher,
    pub mailer: Mailer,
    pub engine_hooks: Arc<dyn EngineHooks>,
    pub lists: Arc<crate::cache::ListCache>,
    /// Accounts' auth state, so that token checks skip the database.
    pub sessions: Arc<crate::auth::sessions::SessionCache>,
    /// Linked services and their background imports.
    pub external: Arc<crate::integrations::External>,
    /// Whether the router applies the store's change notices (always, but
    /// in the tests that check a writer drops its own answers unaided).
    pub(crate) hears_notices: bool,
}

/// Drops what `change` alters from this instance's caches: the answers
/// that show it, and for an account its auth state.
fn drop_what_changed(
    lists: &crate::cache::ListCache,
    sessions: &crate::auth::sessions::SessionCache,
    change: ListChange,
) {
    if let ListChange::Account { user_id } = change {
        sessions.forget(user_id);
    }
    lists.changed(change);
}

impl AppState {
    pub fn new(db: Db, config: ApiConfig, mailer: Mailer) -> Self {
        let jwt = Arc::new(
            JwtKeys::new(config.secret_key.expose(), config.access_token_ttl)
                .with_previous(config.previous_secret_key.as_ref().map(Secret::expose)),
        );
        let hasher = PasswordHasher::new(config.bcrypt_cost, config.bcrypt_concurrency)
            .with_niceness(config.bcrypt_niceness);
        let external = crate::integrations::External::new(
            db.clone(),
            config.external.clone(),
            &config.url_front,
        );
        let lists = Arc::new(crate::cache::ListCache::new(config.list_cache_ttl));
        let sessions = Arc::new(crate::auth::sessions::SessionCache::default());
        AppState {
            db,
            config: Arc::new(config),
            jwt,
            hasher,
            mailer,
            engine_hooks: Arc::new(NoEngine),
            external,
            lists,
            sessions,
            hears_notices: true,
        }
    }

    /// This state with the change notices never applied: what a writer
    /// does not drop itself stays cached until it expires.
    #[cfg(feature = "testing")]
    pub fn deaf_to_notices(mut self) -> Self {
        self.hears_notices = false;
        self
    }

    /// Applies the store's change notices to the caches, in a task that
    /// ends when the state is dropped. If notices cannot be heard, the
    /// auth state is read from the database on every request.
    pub(crate) fn follow_changes(&self) {
        let lists = Arc::downgrade(&self.lists);
        let sessions = Arc::downgrade(&self.sessions);
        let db = self.db.clone();
        tokio::spawn(async move {
            db.watch_changes(|heard| {
                let (Some(lists), Some(sessions)) = (lists.upgrade(), sessions.upgrade()) else {
                    return false;
                };
                match heard {
                    Heard::Change(change) => drop_what_changed(&lists, &sessions, change),
                    Heard::MayHaveMissed => {
                        lists.clear();
                        sessions.clear();
                    }
                }
                true
            })
            .await;
            if let Some(sessions) = sessions.upgrade() {
                sessions.stop();
            }
        });
    }

    /// A change that cached lists show has committed: drop what it alters
    /// here before answering (the caller reads its own write), then tell
    /// the other instances.
    pub async fn list_changed(&self, change: ListChange) {
        self.announced(change);
        self.db.announce(change).await;
    }

    /// [`AppState::list_changed`] for a change whose notice the store sent
    /// itself, with the commit: only what it alters here is dropped (cached
    /// answers, and an account's auth state), before the request that made
    /// it answers.
    pub fn announced(&self, change: ListChange) {
        drop_what_changed(&self.lists, &self.sessions, change);
    }

    /// Attaches the engine that should hear about changes.
    pub fn with_engine(mut self, hooks: Arc<dyn EngineHooks>) -> Self {
        self.engine_hooks = hooks;
        self
    }
}
