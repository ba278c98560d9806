//! Transactional mails (spec §12) behind one small interface with four
//! transports: `log` (default; works offline), `smtp` (lettre over rustls),
//! `mailjet` (its v3.1 send API) and `memory` (tests). Mails are queued
//! after the database commit and sent by a background worker with retries,
//! never inside the request: a slow or failing mail server changes neither
//! the answer nor its timing (D23), and the bounded queue drops (and logs)
//! rather than growing without limit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::json;
use tokio::sync::mpsc;

use crate::state::Secret;

/// The three mails of the original, with their Mailjet template ids, and
/// the notices of account changes (spec D6), which are plain text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    Welcome,
    ForgottenPassword,
    ResetConfirmation,
    /// To the old address, after the account's e-mail changed.
    EmailChanged,
    /// To the account's address, after its password changed.
    PasswordChanged,
}

impl Template {
    /// The original's Mailjet template; `None` for the notices we added.
    pub fn mailjet_id(self) -> Option<u64> {
        match self {
            Template::Welcome => Some(1_112_887),
            Template::ForgottenPassword => Some(1_107_554),
            Template::ResetConfirmation => Some(1_817_695),
            Template::EmailChanged | Template::PasswordChanged => None,
        }
    }
    pub fn subject(self) -> &'static str {
        match self {
            Template::Welcome => "Welcome to RecoFinement ",
            Template::ForgottenPassword => "[RecoFinement] Reset Your Password",
            Template::ResetConfirmation => "[RecoFinement] Successful reset password",
            Template::EmailChanged => "[RecoFinement] Your e-mail address was changed",
            Template::PasswordChanged => "[RecoFinement] Your password was changed",
        }
    }
}

/// One mail to one user.
#[derive(Clone, Debug)]
pub struct Mail {
    pub template: Template,
    pub to_email: String,
    pub to_name: String,
    /// The link of the mail (the front end, or the reset page with its token).
    pub link: String,
}

impl Mail {
    pub fn text_body(&self) -> String {
        let intro = match self.template {
            Template::Welcome => "welcome to RecoFinement! Start here:",
            Template::ForgottenPassword => {
                "someone asked to reset your password. If it was you, follow this link:"
            }
            Template::ResetConfirmation => "your password has been reset. Sign in here:",
            Template::EmailChanged => {
                "the e-mail address of your account was changed. If it was not you, reset your password and contact us:"
            }
            Template::PasswordChanged => {
                "the password of your account was changed. If it was not you, reset your password here:"
            }
        };
        format!("Hello {},\n\n{intro}\n{}\n", self.to_name, self.link)
    }
}

pub const SENDER_EMAIL: &str = "advise.ly1@gmail.com";
pub const SENDER_NAME: &str = "Advisely";

/// A way of delivering mails.
pub trait MailTransport: Send + Sync {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// How the mail worker queues and retries.
#[derive(Clone, Copy, Debug)]
pub struct MailQueueConfig {
    /// Mails waiting at most; more are dropped and logged.
    pub capacity: usize,
    /// Further attempts after a failed one.
    pub retries: u32,
    /// Wait before the first retry, doubled before each next one.
    pub backoff: Duration,
    /// Longest one attempt may take.
    pub attempt_timeout: Duration,
}

impl Default for MailQueueConfig {
    fn default() -> Self {
        MailQueueConfig {
            capacity: 1000,
            retries: 3,
            backoff: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(15),
        }
    }
}

/// The API's way to send mails, cheap to clone: a bounded queue in front of
/// a background worker that owns the transport. Create it inside a Tokio
/// runtime (the worker is spawned at once); it stops when the last clone goes.
#[derive(Clone)]
pub struct Mailer(mpsc::Sender<Mail>);

impl Mailer {
    pub fn new(transport: impl MailTransport + 'static) -> Self {
        Self::with_queue(transport, MailQueueConfig::default())
    }

    pub fn with_queue(transport: impl MailTransport + 'static, config: MailQueueConfig) -> Self {
        let (sender, receiver) = mpsc::channel(config.capacity.max(1));
        tokio::spawn(deliver(Arc::new(transport), receiver, config));
        Mailer(sender)
    }

    /// Queues a mail (call it after the commit). Never waits: when the queue
    /// is full the mail is dropped and logged.
    pub fn queue(&self, mail: Mail) {
        let template = mail.template;
        match self.0.try_send(mail) {
            Ok(()) => metrics::gauge!("recofinement_mails_queued").increment(1.0),
            Err(error) => {
                let reason = match error {
                    mpsc::error::TrySendError::Full(_) => "the mail queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the mail worker has stopped",
                };
                tracing::error!(?template, reason, "mail dropped");
                metrics::counter!("recofinement_mails_total", "outcome" => "dropped").increment(1);
            }
        }
    }
}

/// The worker: sends queued mails one at a time, retrying with backoff.
async fn deliver(
    transport: Arc<dyn MailTransport>,
    mut queue: mpsc::Receiver<Mail>,
    config: MailQueueConfig,
) {
    while let Some(mail) = queue.recv().await {
        metrics::gauge!("recofinement_mails_queued").decrement(1.0);
        let template = mail.template;
        let mut wait = config.backoff;
        for attempt in 0..=config.retries {
            let outcome = tokio::time::timeout(config.attempt_timeout, transport.send(&mail)).await;
            let error = match outcome {
                Ok(Ok(())) => {
                    tracing::debug!(?template, attempt, "mail sent");
                    metrics::counter!("recofinement_mails_total", "outcome" => "sent").increment(1);
                    break;
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => "the mail transport timed out".to_string(),
            };
            if attempt == config.retries {
                tracing::error!(?template, %error, "mail could not be sent; given up");
                metrics::counter!("recofinement_mails_total", "outcome" => "failed").increment(1);
            } else {
                tracing::warn!(?template, %error, attempt, "mail could not be sent; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
}

/// Writes mails to the log with the link's secret part redacted; the whole
/// mail goes to an outbox file when one is configured, so a developer can
/// follow a reset link on a machine without mail.
pub struct LogTransport {
    pub outbox: Option<std::path::PathBuf>,
}

impl MailTransport for LogTransport {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let shown = match mail.template {
                Template::ForgottenPassword => "<reset link redacted>".to_string(),
                _ => mail.link.clone(),
            };
            tracing::info!(to = %mail.to_email, template = ?mail.template, link = %shown, "mail (log transport)");
            if let Some(path) = &self.outbox {
                use tokio::io::AsyncWriteExt;
                let mut file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await?;
                let text = format!(
                    "To: {} <{}>\nSubject: {}\n\n{}\n---\n",
                    mail.to_name,
                    mail.to_email,
                    mail.template.subject(),
                    mail.text_body()
                );
                file.write_all(text.as_bytes()).await?;
            }
            Ok(())
        })
    }
}

/// Keeps mails in memory; tests read them back.
#[derive(Clone, Default)]
pub struct MemoryTransport(pub Arc<Mutex<Vec<Mail>>>);

impl MemoryTransport {
    pub fn sent(&self) -> Vec<Mail> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The mails sent, once there are at least `count` (the worker sends
    /// them after the answer); gives up after ten seconds.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        for _ in 0..1000 {
            let sent = self.sent();
            if sent.len() >= count {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.sent()
    }
}

/// Fails a given number of times, then delivers to memory: shows retries.
pub struct FlakyTransport {
    pub failures_left: Mutex<u32>,
    pub inner: MemoryTransport,
}

impl MailTransport for FlakyTransport {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            {
                let mut left = self
                    .failures_left
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?;
                if *left > 0 {
                    *left -= 1;
                    anyhow::bail!("temporary failure");
                }
            }
            self.inner.send(mail).await
        })
    }
}

impl MailTransport for MemoryTransport {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.0
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .push(mail.clone());
            Ok(())
        })
    }
}

/// A transport that always fails, to show that mail trouble loses nothing.
pub struct FailingTransport;

impl MailTransport for FailingTransport {
    fn send<'a>(&'a self, _mail: &'a Mail) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { anyhow::bail!("mail server unreachable") })
    }
}

/// Mailjet's send API v3.1 with the original's templates.
pub struct MailjetTransport {
    pub client: reqwest::Client,
    pub base_url: String,
    pub public_key: String,
    pub private_key: Secret,
}

impl MailTransport for MailjetTransport {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let mut message = json!({
                "From": {"Email": SENDER_EMAIL, "Name": SENDER_NAME},
                "To": [{"Email": mail.to_email, "Name": mail.to_name}],
            });
            let content = match mail.template.mailjet_id() {
                Some(id) => json!({
                    "TemplateID": id,
                    "TemplateLanguage": true,
                    "Variables": {"firstname": mail.to_name, "resetUrl": mail.link, "subject": mail.template.subject()}
                }),
                None => json!({"Subject": mail.template.subject(), "TextPart": mail.text_body()}),
            };
            if let (Some(message), Some(content)) = (message.as_object_mut(), content.as_object()) {
                message.extend(content.clone());
            }
            let body = json!({"Messages": [message]});
            let url = format!("{}/v3.1/send", self.base_url.trim_end_matches('/'));
            let response = self
                .client
                .post(url)
                .basic_auth(&self.public_key, Some(self.private_key.expose()))
                .json(&body)
                .send()
                .await?;
            let status = response.status();
            if !status.is_success() {
                anyhow::bail!("mailjet answered {status}");
            }
            Ok(())
        })
    }
}

/// SMTP through lettre (STARTTLS with rustls, or plain for a local relay).
pub struct SmtpTransport {
    pub transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
}

impl SmtpTransport {
    pub fn new(
        host: &str,
        port: u16,
        username: Option<String>,
        password: Option<Secret>,
        tls: bool,
    ) -> anyhow::Result<Self> {
        use lettre::transport::smtp::authentication::Credentials;
        let mut builder = if tls {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::starttls_relay(host)?
        } else {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(host)
        };
        builder = builder.port(port);
        if let (Some(user), Some(pass)) = (username, password) {
            builder = builder.credentials(Credentials::new(user, pass.expose().to_string()));
        }
        Ok(SmtpTransport {
            transport: builder.build(),
        })
    }
}

impl MailTransport for SmtpTransport {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, anyhow::Result<()>> {
        use lettre::AsyncTransport;
        Box::pin(async move {
            let message = lettre::Message::builder()
                .from(format!("{SENDER_NAME} <{SENDER_EMAIL}>").parse()?)
                .to(format!("{} <{}>", mail.to_name, mail.to_email).parse()?)
                .subject(mail.template.subject())
                .body(mail.text_body())?;
            self.transport.send(message).await?;
            Ok(())
        })
    }
}
