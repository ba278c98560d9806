//! Linked external services (spec api-accounts §11): Spotify and Google
//! Books through the OAuth2 authorization-code flow (the `oauth2` crate over
//! our reqwest client), TMDB through its request-token flow; provider grants
//! encrypted at rest; imports of what each provider knows into the catalogue
//! and the user's interactions, run by a bounded background queue.

pub mod crypto;
pub mod gbooks;
pub mod http;
pub mod jobs;
pub mod spotify;
pub mod tmdb;

use recofinement_store::changes::ListChange;
use std::sync::Arc;
use std::time::Duration;

use recofinement_store::Db;
use recofinement_store::external::{ExternalLink, ImportItem, ImportReport};
use sha2::{Digest, Sha256};

use crate::state::Secret;
use http::Grant;

pub use crypto::{TokenCipher, TokenKey, grant_aad};
pub use jobs::ImportQueue;

/// Client path the providers send the browser back to.
pub const RETURN_PATH: &str = "/recofinement/app/user/profile";

/// How long an OAuth `state` (or a TMDB request token) stays usable.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);

pub use recofinement_domain::Service;

/// An OAuth2 provider (Spotify, Google Books).
#[derive(Clone, Debug)]
pub struct OAuthProvider {
    pub client_id: String,
    pub client_secret: Secret,
    /// Authorization endpoint the browser is sent to.
    pub auth_url: String,
    /// Token endpoint (code exchange and refresh).
    pub token_url: String,
    /// Base URL of the provider's API (`https://api.spotify.com`, `https://www.googleapis.com`).
    pub api_url: String,
}

/// TMDB: an API key and two base URLs.
#[derive(Clone, Debug)]
pub struct TmdbProvider {
    pub api_key: Secret,
    /// API base (`https://api.themoviedb.org`).
    pub api_url: String,
    /// Site the browser approves the request token on (`https://www.themoviedb.org`).
    pub auth_url: String,
}

/// Settings of the linked services.
#[derive(Clone, Debug)]
pub struct ExternalConfig {
    /// Key of the provider tokens at rest.
    pub token_key: TokenKey,
    /// The key before a rotation: still opens the tokens it sealed.
    pub previous_token_key: Option<TokenKey>,
    pub spotify: Option<OAuthProvider>,
    pub tmdb: Option<TmdbProvider>,
    pub gbooks: Option<OAuthProvider>,
    /// Longest wait for one provider call.
    pub provider_timeout: Duration,
    /// Longest an import may spend collecting from its provider.
    pub import_timeout: Duration,
    /// Imports running at once.
    pub import_workers: usize,
    /// Imports waiting or running at most; more are dropped (and logged).
    pub import_queue: usize,
    /// Longest `Retry-After` honoured; a longer one stops the import.
    pub max_retry_after: Duration,
    /// Pages followed per provider list at most.
    pub max_pages: usize,
}

impl ExternalConfig {
    /// The OAuth2 settings of `service`, when it is configured (TMDB has
    /// its own request-token flow, never these).
    pub fn oauth(&self, service: Service) -> Option<&OAuthProvider> {
        match service {
            Service::Spotify => self.spotify.as_ref(),
            Service::GBooks => self.gbooks.as_ref(),
            Service::Tmdb => None,
        }
    }
}

impl Default for ExternalConfig {
    fn default() -> Self {
        ExternalConfig {
            token_key: TokenKey::random(),
            previous_token_key: None,
            spotify: None,
            tmdb: None,
            gbooks: None,
            provider_timeout: Duration::from_secs(10),
            import_timeout: Duration::from_secs(300),
            import_workers: 2,
            import_queue: 256,
            max_retry_after: Duration::from_secs(60),
            max_pages: 50,
        }
    }
}

/// Why an import stopped.
#[derive(Debug)]
pub enum ImportError {
    /// The provider no longer accepts the stored grant: the link goes.
    Revoked,
    /// The provider answered with an error status or could not be reached.
    Provider(String),
    /// The provider's answer did not have the expected shape.
    Malformed(String),
    /// The service is not configured on this server.
    NotConfigured,
    Store(recofinement_store::StoreError),
    Crypto,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::Revoked => f.write_str("the provider revoked the grant"),
            ImportError::Provider(m) => write!(f, "provider error: {m}"),
            ImportError::Malformed(m) => write!(f, "malformed provider answer: {m}"),
            ImportError::NotConfigured => f.write_str("service not configured"),
            ImportError::Store(e) => write!(f, "database error: {e}"),
            ImportError::Crypto => f.write_str("a stored token cannot be decrypted"),
        }
    }
}

impl From<recofinement_store::StoreError> for ImportError {
    fn from(e: recofinement_store::StoreError) -> Self {
        ImportError::Store(e)
    }
}

/// Everything the external-service routes and imports share.
pub struct External {
    pub db: Db,
    pub config: ExternalConfig,
    /// `URL_FRONT` + [`RETURN_PATH`].
    pub redirect_uri: String,
    pub cipher: TokenCipher,
    pub http: reqwest::Client,
    pub queue: ImportQueue,
}

impl External {
    pub fn new(db: Db, config: ExternalConfig, url_front: &str) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.provider_timeout)
            .connect_timeout(config.provider_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Arc::new(External {
            db,
            cipher: TokenCipher::rotating(&config.token_key, config.previous_token_key.as_ref()),
            queue: ImportQueue::new(config.import_workers, config.import_queue),
            redirect_uri: format!("{}{RETURN_PATH}", url_front.trim_end_matches('/')),
            http,
            config,
        })
    }

    pub fn is_configured(&self, service: Service) -> bool {
        match service {
            Service::Spotify => self.config.spotify.is_some(),
            Service::Tmdb => self.config.tmdb.is_some(),
            Service::GBooks => self.config.gbooks.is_some(),
        }
    }

    /// Starts, in the background, the imports of every service the user has
    /// linked (after a login). Returns at once.
    pub fn import_all(self: &Arc<Self>, user_id: i64) {
        let this = Arc::clone(self);
        jobs::spawn(async move {
            match this.db.linked_services(user_id).await {
                Ok(services) => {
                    for linked in services {
                        if let Some(service) = Service::from_name(&linked.service_name) {
                            this.enqueue(user_id, service);
                        }
                    }
                }
                Err(e) => tracing::warn!(user_id, error = %e, "cannot list linked services"),
            }
        });
    }

    /// Queues one import (no-op when the same one is queued or running).
    pub fn enqueue(self: &Arc<Self>, user_id: i64, service: Service) {
        let this = Arc::clone(self);
        self.queue.submit(user_id, service, async move {
            this.run_import(user_id, service).await
        });
    }

    /// One import, from the stored grant to its recorded outcome.
    async fn run_import(&self, user_id: i64, service: Service) {
        let link = match self.db.external_link(user_id, service).await {
            Ok(Some(link)) => link,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(user_id, service = service.name(), error = %e, "import not started");
                return;
            }
        };
        let import_id = match self.db.start_import(user_id, service).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(user_id, service = service.name(), error = %e, "import not started");
                return;
            }
        };
        let started = std::time::Instant::now();
        // Only the provider's side is timed: once the items are in hand,
        // their write commits and is announced, or fails, whole (a timeout
        // could otherwise strike between the commit and its announcement).
        let collecting = self.collect(user_id, service, link);
        let result = match tokio::time::timeout(self.config.import_timeout, collecting).await {
            Ok(Ok(items)) => Ok(self.write_import(user_id, &items).await),
            Ok(Err(error)) => Ok(Err(error)),
            Err(elapsed) => Err(elapsed),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let (outcome, report) = match result {
            Ok(Ok(report)) => {
                tracing::info!(
                    user_id,
                    service = service.name(),
                    items_created = report.items_created,
                    interactions_written = report.interactions_written,
                    elapsed_ms,
                    "import done"
                );
                ("ok".to_string(), report)
            }
            Ok(Err(ImportError::Revoked)) => {
                tracing::warn!(
                    user_id,
                    service = service.name(),
                    elapsed_ms,
                    "grant revoked by the provider: link removed"
                );
                if let Err(e) = self.db.unlink_external(user_id, service).await {
                    tracing::error!(user_id, service = service.name(), error = %e, "cannot remove a revoked link");
                }
                ("revoked".to_string(), Default::default())
            }
            Ok(Err(e)) => {
                tracing::error!(user_id, service = service.name(), error = %e, elapsed_ms, "import failed; nothing written");
                (format!("error: {e}"), Default::default())
            }
            Err(_) => {
                tracing::error!(
                    user_id,
                    service = service.name(),
                    elapsed_ms,
                    "import timed out; nothing written"
                );
                ("timeout".to_string(), Default::default())
            }
        };
        if let Err(e) = self.db.finish_import(import_id, &outcome, report).await {
            tracing::warn!(user_id, service = service.name(), error = %e, "cannot record the import outcome");
        }
    }

    /// The user's items at the provider, through the stored grant.
    async fn collect(
        &self,
        user_id: i64,
        service: Service,
        link: ExternalLink,
    ) -> Result<Items, ImportError> {
        let open = |token: Option<String>| {
            token
                .as_deref()
                .map(|t| self.decrypt(user_id, service, t))
                .transpose()
        };
        let grant = Grant {
            user_id,
            service,
            access: open(link.access_token)?,
            refresh_token: open(link.refresh_token)?,
        };
        match service {
            Service::Spotify => spotify::collect(self, grant).await,
            Service::Tmdb => tmdb::collect(self, grant.access).await,
            Service::GBooks => gbooks::collect(self, grant).await,
        }
    }

    /// Writes collected items, and announces them once committed.
    async fn write_import(&self, user_id: i64, items: &Items) -> Result<ImportReport, ImportError> {
        let report = self.db.import_library(user_id, items).await?;
        self.db.announce(ListChange::Catalogue).await;
        Ok(report)
    }

    /// Associated data binding a ciphertext to its row.
    fn aad(user_id: i64, service: Service) -> String {
        crypto::grant_aad(user_id, service.name())
    }

    pub fn encrypt(&self, user_id: i64, service: Service, token: &str) -> String {
        self.cipher
            .encrypt(token, Self::aad(user_id, service).as_bytes())
    }

    pub fn decrypt(
        &self,
        user_id: i64,
        service: Service,
        stored: &str,
    ) -> Result<String, ImportError> {
        self.cipher
            .decrypt(stored, Self::aad(user_id, service).as_bytes())
            .ok_or(ImportError::Crypto)
    }
}

/// SHA-256 (hex) of a state or request token: only this is stored.
pub fn state_hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// A random single-use state value (256 bits, URL-safe).
pub fn new_state() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Helper for the providers: the item list being built.
pub type Items = Vec<ImportItem>;

/// First `n` characters of a date string parsed as a year.
pub fn year_of(date: Option<&str>) -> Option<i64> {
    date.and_then(|d| d.get(..4)).and_then(|y| y.parse().ok())
}
