//! The `recofinement` binary: wiring of configuration, database, API and
//! the command-line tools.

mod config;
mod dataset;
mod engine_cli;

use anyhow::{Context, bail};
use clap::Parser;
use tracing_subscriber::EnvFilter;

use recofinement::backup;
use recofinement_api::mail::{LogTransport, Mailer, MailjetTransport, SmtpTransport};
use recofinement_api::{ApiConfig, AppState, Secret};
use recofinement_domain::validate;
use recofinement_store::Db;
use recofinement_store::audit::AuditAction;

use config::{AdminCommand, Cli, Command, LogFormat, MailTransportKind, SecretCommand, Settings};
use recofinement::secrets;

/// The server allocates many small, short-lived values per request (JSON
/// maps, rows, strings); glibc's allocator took about a fifth of the CPU of
/// an uncached page (`perf`, README "Benchmarks"), mimalloc much less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    init_logging(&cli.settings);
    // reqwest is built without a default TLS provider; pick ring once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log = match settings.log_format {
        LogFormat::Text => log.boxed(),
        LogFormat::Json => log.json().boxed(),
    };
    // The filter is the log's own, so the pool-wait metrics see their
    // events whatever the log level is.
    tracing_subscriber::registry()
        .with(log.with_filter(filter))
        .with(recofinement_api::metrics::pool_wait_layer())
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    // Generating needs no database.
    if let Some(Command::Generate { out, size }) = &cli.command {
        return dataset::generate_command(out, &size.options());
    }
    if let Some(Command::Secret(SecretCommand::Generate)) = &cli.command {
        println!("{}", secrets::generate());
        return Ok(());
    }
    // Restoring replaces the database file: nothing may open it first.
    if let Some(Command::Restore { file }) = &cli.command {
        backup::restore(&settings.database_url, file).await?;
        println!(
            "restored {} from {}",
            redact_url(&settings.database_url),
            file.display()
        );
        return Ok(());
    }
    // Every command that opens the database holds it against `restore`
    // (which replaces the file) from before it connects until it exits: a
    // write of an import or an `admin` command would otherwise land in the
    // replaced file, reported as done, or half in each.
    let _serve_lock = backup::hold_serve_lock(&settings.database_url)?;
    let db = Db::connect(&settings.database_url, settings.db_max_connections).await?;
    db.migrate().await.context("applying migrations")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(db, &settings).await,
        Command::Migrate => {
            println!(
                "migrations applied to {}",
                redact_url(&settings.database_url)
            );
            Ok(())
        }
        Command::Admin(command) => admin(db, &settings, command).await,
        Command::Import { dir } => {
            dataset::import(&db, &dir).await?;
            db.close().await;
            Ok(())
        }
        Command::Generate { .. }
        | Command::Secret(SecretCommand::Generate)
        | Command::Restore { .. } => {
            unreachable!("handled before connecting")
        }
        Command::Secret(SecretCommand::Rotate) => {
            let file = secrets::KeyFile::for_database(&settings.database_url);
            let count = secrets::rotate(&db, &file, settings.given_keys()).await?;
            println!(
                "{count} linked-service grants re-encrypted with the current TOKEN_ENCRYPTION_KEY"
            );
            db.close().await;
            Ok(())
        }
        Command::Backup { file } => {
            backup::backup(&db, &settings.database_url, &file).await?;
            db.close().await;
            println!("backup written to {}", file.display());
            Ok(())
        }
        Command::Export { dir } => {
            backup::export(&db, &dir).await?;
            db.close().await;
            Ok(())
        }
        Command::Engine(command) => {
            let threads = engine_cli::engine_threads(settings.engine_threads, false);
            let tick = std::time::Duration::from_secs(settings.engine_tick_secs.max(1));
            engine_cli::command(db, threads, tick, settings.cf_min_interval(), command).await
        }
        Command::Demo { size } => {
            dataset::demo_data(&db, &size.options()).await?;
            // The dashboard's quality panel shows stored evaluations.
            if db.evaluations(1).await?.is_empty() {
                let (_, id) = recofinement::run_history::evaluate_and_save(&db, 11, "s").await?;
                tracing::info!(id, "offline evaluation stored for the dashboard");
            }
            serve(db, &settings).await
        }
    }
}

/// The URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let credentials = &url[start + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..start + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn api_config(db: &Db, settings: &Settings) -> anyhow::Result<ApiConfig> {
    let keys = resolve_keys(db, settings).await?;
    Ok(ApiConfig {
        secret_key: Secret::new(keys.secret_key.as_str()),
        previous_secret_key: keys.secret_key_previous.as_deref().map(Secret::new),
        url_front: settings.url_front.trim_end_matches('/').to_string(),
        reset_path: settings.reset_path.clone(),
        reset_token_ttl: std::time::Duration::from_secs(settings.reset_token_secs.max(60)),
        bcrypt_cost: settings.bcrypt_cost.clamp(4, 31),
        bcrypt_concurrency: settings.bcrypt_concurrency(),
        bcrypt_niceness: settings.bcrypt_niceness,
        cors_origins: settings
            .cors_origins
            .iter()
            .filter(|o| !o.is_empty())
            .cloned()
            .collect(),
        login_window: std::time::Duration::from_secs(settings.login_window_secs.max(1)),
        login_max_failures_per_account: settings.login_max_failures_per_account,
        login_max_failures_per_client: settings.login_max_failures_per_client,
        login_account_ceiling: settings.login_account_ceiling,
        requests_per_client: settings.account_requests_per_client,
        requests_per_email: settings.account_requests_per_email,
        submissions_per_user: settings.submissions_per_user,
        link_requests_per_user: settings.link_requests_per_user,
        request_timeout: settings.request_timeout(),
        sandbox_timeout: std::time::Duration::from_secs(settings.sandbox_timeout_secs.max(1)),
        sandbox_max_runs: settings.sandbox_max_runs.max(1),
        sandbox_max_runs_total: settings.sandbox_max_runs_total.max(1),
        list_cache_ttl: std::time::Duration::from_secs(settings.list_cache_secs),
        trusted_proxies: recofinement_api::auth::client::parse_trusted_proxies(
            &settings.trusted_proxies,
        )
        .map_err(anyhow::Error::msg)?,
        external: external_config(settings, keys.token_key, keys.token_key_previous)?,
        ..ApiConfig::default()
    })
}

/// Providers of the linked services (each is off unless its credentials are
/// set) and the key of their tokens at rest.
/// The installation's keys: given, or from the key file beside a SQLite database.
async fn resolve_keys(db: &Db, settings: &Settings) -> anyhow::Result<secrets::Keys> {
    let file = secrets::KeyFile::for_database(&settings.database_url);
    secrets::resolve(db, &file, settings.given_keys()).await
}

fn external_config(
    settings: &Settings,
    token_key: recofinement_api::integrations::TokenKey,
    previous_token_key: Option<recofinement_api::integrations::TokenKey>,
) -> anyhow::Result<recofinement_api::integrations::ExternalConfig> {
    use recofinement_api::integrations::{ExternalConfig, OAuthProvider, TmdbProvider};
    let spotify = match (&settings.spotify_client_id, &settings.spotify_client_secret) {
        (Some(id), Some(secret)) if !id.is_empty() => Some(OAuthProvider {
            client_id: id.clone(),
            client_secret: Secret::new(secret.as_str()),
            auth_url: settings.spotify_auth_url.clone(),
            token_url: settings.spotify_token_url.clone(),
            api_url: settings.spotify_api_url.clone(),
        }),
        _ => None,
    };
    let tmdb = settings
        .tmdb_client_token
        .as_ref()
        .filter(|k| !k.is_empty())
        .map(|key| TmdbProvider {
            api_key: Secret::new(key.as_str()),
            api_url: settings.tmdb_api_url.clone(),
            auth_url: settings.tmdb_auth_url.clone(),
        });
    // The Google client file of the original, overridden by GOOGLE_* settings.
    let file: serde_json::Value = match &settings.google_oauth_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading PATH_TO_GOOGLE_OAUTH_FILE {}", path.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing PATH_TO_GOOGLE_OAUTH_FILE {}", path.display()))?;
            value.get("web").cloned().unwrap_or(value)
        }
        None => serde_json::Value::Null,
    };
    let from_file = |name: &str| file.get(name).and_then(|v| v.as_str()).map(str::to_string);
    let google_id = settings
        .google_client_id
        .clone()
        .or_else(|| from_file("client_id"));
    let google_secret = settings
        .google_client_secret
        .clone()
        .or_else(|| from_file("client_secret"));
    let gbooks = match (google_id, google_secret) {
        (Some(id), Some(secret)) if !id.is_empty() => Some(OAuthProvider {
            client_id: id,
            client_secret: Secret::new(secret),
            auth_url: settings
                .google_auth_url
                .clone()
                .or_else(|| from_file("auth_uri"))
                .unwrap_or_else(|| "https://accounts.google.com/o/oauth2/auth".into()),
            token_url: settings
                .google_token_url
                .clone()
                .or_else(|| from_file("token_uri"))
                .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
            api_url: settings.google_books_api_url.clone(),
        }),
        _ => None,
    };
    Ok(ExternalConfig {
        token_key,
        previous_token_key,
        spotify,
        tmdb,
        gbooks,
        provider_timeout: std::time::Duration::from_secs(settings.external_timeout_secs.max(1)),
        import_timeout: std::time::Duration::from_secs(settings.import_timeout_secs.max(1)),
        import_workers: settings.import_workers.max(1),
        ..ExternalConfig::default()
    })
}

fn mailer(settings: &Settings) -> anyhow::Result<Mailer> {
    Ok(match settings.mail_transport {
        MailTransportKind::Log => Mailer::new(LogTransport {
            outbox: settings.mail_outbox.clone(),
        }),
        MailTransportKind::Smtp => Mailer::new(SmtpTransport::new(
            &settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username.clone(),
            settings.smtp_password.clone().map(Secret::new),
            settings.smtp_tls,
        )?),
        MailTransportKind::Mailjet => {
            let (Some(public_key), Some(private_key)) =
                (&settings.mailjet_public_key, &settings.mailjet_private_key)
            else {
                bail!("MAIL_TRANSPORT=mailjet needs MJ_APIKEY_PUBLIC and MJ_APIKEY_PRIVATE");
            };
            Mailer::new(MailjetTransport {
                client: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(10))
                    .build()?,
                base_url: settings.mailjet_base_url.clone(),
                public_key: public_key.clone(),
                private_key: Secret::new(private_key.as_str()),
            })
        }
    })
}

async fn serve(db: Db, settings: &Settings) -> anyhow::Result<()> {
    interrupt_stale_runs(&db, settings).await?;
    let state = AppState::new(
        db.clone(),
        api_config(&db, settings).await?,
        mailer(settings)?,
    );
    // The engines run beside the API on their own threads (sandbox runs
    // always; the scheduler unless another process hosts it).
    let threads = engine_cli::engine_threads(settings.engine_threads, true);
    let runner = std::sync::Arc::new(
        recofinement::engine_runner::EngineRunner::new(db.clone(), threads)?
            .with_cf_min_interval(settings.cf_min_interval()),
    );
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let bridge = recofinement::engine_runner::EngineBridge {
        wake: wake.clone(),
        runner: runner.clone(),
    };
    let state = state.with_engine(std::sync::Arc::new(bridge));
    // Shutdown cancels the engine's computations at once (and tells the
    // Socket.IO sessions), while the server drains its requests.
    let stopping = runner.clone();
    let signal = async move {
        shutdown_signal().await;
        stopping.shutdown();
    };
    // Metrics first, so that the engines' first runs are counted.
    let metrics = match &settings.metrics_addr {
        Some(address) => Some(serve_metrics(address, state.clone()).await?),
        None => None,
    };
    let engine = (!settings.no_engine).then(|| {
        let tick = std::time::Duration::from_secs(settings.engine_tick_secs.max(1));
        tokio::spawn(recofinement::scheduler::run(db.clone(), runner, wake, tick))
    });
    let purge = tokio::spawn(purge_hourly(db.clone(), settings.retention()));
    let address = format!("{}:{}", settings.host, settings.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("binding {address}"))?;
    tracing::info!(address = %listener.local_addr()?, database = %redact_url(&settings.database_url), "serving the API");
    let app = match &settings.redis_url {
        Some(url) => recofinement_api::router_with_redis(state, url)
            .await
            .context("connecting the Socket.IO rooms to Redis")?,
        None => recofinement_api::router(state),
    };
    let limits = settings.server_limits();
    recofinement_api::server::serve(listener, app, limits, signal).await?;
    purge.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    if let Some(mut engine) = engine {
        // The cancelled run records itself as interrupted, then the loop ends.
        let grace = std::time::Duration::from_secs(2);
        if tokio::time::timeout(grace, &mut engine).await.is_err() {
            engine.abort();
        }
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Sandbox runs a crash left `running` are marked interrupted. On SQLite
/// only this process computes runs, so every one is stale; on PostgreSQL
/// other instances may be computing theirs, so only runs past the timeout.
async fn interrupt_stale_runs(db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let timeout = match db.backend() {
        recofinement_store::Backend::Sqlite => 0,
        recofinement_store::Backend::Postgres => settings.sandbox_timeout_secs.max(1),
    };
    let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(timeout);
    let cutoff = recofinement_store::naive_utc(cutoff);
    let interrupted = db.interrupt_stale_runs(cutoff).await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "sandbox runs left running by a stop were marked interrupted"
        );
    }
    Ok(())
}

/// Deletes, every hour, what the retention settings no longer keep.
async fn purge_hourly(db: Db, retention: recofinement_store::retention::Retention) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match db.purge(retention).await {
            Ok(report) => tracing::info!(?report, "purged"),
            Err(error) => tracing::warn!(%error, "purging old rows failed"),
        }
    }
}

/// Serves `GET /metrics` on its own listener, off the public API.
async fn serve_metrics(
    address: &str,
    state: AppState,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let handle = recofinement_api::metrics::install()?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the metrics listener {address}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving Prometheus metrics at /metrics");
    let app = recofinement_api::metrics::router(state, handle);
    Ok(tokio::spawn(async move {
        if let Err(error) = recofinement_api::serve(listener, app, std::future::pending()).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    }))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested: draining in-flight requests");
}

async fn admin(db: Db, settings: &Settings, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Grant { email, role } => {
            let email = validate::normalise_email(&email);
            match db.grant_role(&email, &role).await {
                Ok(()) => {
                    audit_role_change(&db, AuditAction::RoleGranted, &email, &role).await?;
                    println!("{email} now has the role {role}")
                }
                Err(recofinement_store::StoreError::NotFound) => {
                    bail!("no account with the e-mail {email}")
                }
                Err(other) => return Err(other.into()),
            }
        }
        AdminCommand::Revoke { email, role } => {
            let email = validate::normalise_email(&email);
            match db.revoke_role(&email, &role).await {
                Ok(true) => {
                    audit_role_change(&db, AuditAction::RoleRevoked, &email, &role).await?;
                    println!("{email} no longer has the role {role}")
                }
                Ok(false) => println!("{email} did not have the role {role}"),
                Err(recofinement_store::StoreError::NotFound) => {
                    bail!("no account with the e-mail {email}")
                }
                Err(other) => return Err(other.into()),
            }
        }
        AdminCommand::Create {
            email,
            username,
            password,
        } => {
            let email = validate::normalise_email(&email);
            let mut errors = Vec::new();
            validate::email(&email, &mut errors);
            validate::username(&username, &mut errors);
            validate::password(&password, &mut errors);
            if !errors.is_empty() {
                bail!("invalid account: {}", errors.join("; "));
            }
            let hasher = recofinement_api::auth::password::PasswordHasher::new(
                settings.bcrypt_cost.clamp(4, 31),
                1,
            );
            let hash = hasher
                .hash(&password)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            match db.create_user(&email, &username, &hash, "user").await {
                Err(e) if e.is_conflict() => {
                    bail!("an account with the e-mail {email} exists already; use `admin grant`")
                }
                other => other?,
            };
            db.grant_role(&email, "admin").await?;
            audit_role_change(&db, AuditAction::RoleGranted, &email, "admin").await?;
            println!("administrator {username} <{email}> created");
        }
    }
    Ok(())
}

/// Role changes from the command line enter the audit trail (no acting account).
async fn audit_role_change(
    db: &Db,
    action: AuditAction,
    email: &str,
    role: &str,
) -> anyhow::Result<()> {
    let uuid = db
        .user_by_email(email)
        .await?
        .map(|u| u.uuid)
        .unwrap_or_default();
    db.record_audit(None, action, &format!("user:{uuid}"), Some(role))
        .await?;
    Ok(())
}
