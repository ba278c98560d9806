//! Transactional mails (spec §12) behind one small interface with four
//! transports: `log` (default; works offline), `smtp` (lettre over rustls),
//! `mailjet` (its v3.1 send API) and `memory` (tests). Mails are sent after
//! the database commit and their failures are only logged (D23).

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde_json::json;

use crate::state::Secret;

/// The three mails of the original, with their Mailjet template ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    Welcome,
    ForgottenPassword,
    ResetConfirmation,
}

impl Template {
    pub fn mailjet_id(self) -> u64 {
        match self {
            Template::Welcome => 1_112_887,
            Template::ForgottenPassword => 1_107_554,
            Template::ResetConfirmation => 1_817_695,
        }
    }
    pub fn subject(self) -> &'static str {
        match self {
            Template::Welcome => "Welcome to RecoFinement ",
            Template::ForgottenPassword => "[RecoFinement] Reset Your Password",
            Template::ResetConfirmation => "[RecoFinement] Successful reset password",
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
    fn text_body(&self) -> String {
        let intro = match self.template {
            Template::Welcome => "welcome to RecoFinement! Start here:",
            Template::ForgottenPassword => {
                "someone asked to reset your password. If it was you, follow this link:"
            }
            Template::ResetConfirmation => "your password has been reset. Sign in here:",
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

/// The transport the API uses, cheap to clone.
#[derive(Clone)]
pub struct Mailer(Arc<dyn MailTransport>);

impl Mailer {
    pub fn new(transport: impl MailTransport + 'static) -> Self {
        Mailer(Arc::new(transport))
    }

    /// Sends a mail; a failure is logged and never changes the answer of the
    /// request that caused it.
    pub async fn send_logged(&self, mail: Mail) {
        let template = mail.template;
        let sending = metrics::gauge!("recofinement_mails_sending");
        sending.increment(1.0);
        let outcome = match tokio::time::timeout(
            std::time::Duration::from_secs(15),
            self.0.send(&mail),
        )
        .await
        {
            Ok(Ok(())) => {
                tracing::debug!(?template, "mail sent");
                "sent"
            }
            Ok(Err(error)) => {
                tracing::error!(?template, %error, "mail could not be sent");
                "failed"
            }
            Err(_) => {
                tracing::error!(?template, "mail transport timed out");
                "failed"
            }
        };
        sending.decrement(1.0);
        metrics::counter!("recofinement_mails_total", "outcome" => outcome).increment(1);
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
            let body = json!({"Messages": [{
                "From": {"Email": SENDER_EMAIL, "Name": SENDER_NAME},
                "To": [{"Email": mail.to_email, "Name": mail.to_name}],
                "TemplateID": mail.template.mailjet_id(),
                "TemplateLanguage": true,
                "Variables": {"firstname": mail.to_name, "resetUrl": mail.link, "subject": mail.template.subject()}
            }]});
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
