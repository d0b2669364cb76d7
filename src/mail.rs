//! Outgoing mail: lettre over SMTP when configured, otherwise an append-only outbox log in the
//! data directory, so a fresh instance without SMTP still shows every mail it would have sent.

use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::AsyncWriteExt;

use crate::api::MailTransport;
use crate::config::{Config, SmtpConfig, SmtpSecurity};

/// A failure to hand a mail over.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address or header is invalid.
    #[error("invalid mail: {0}")]
    Invalid(String),
    /// The SMTP server refused or could not be reached.
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// The outbox log could not be written.
    #[error("outbox log write failed: {0}")]
    Outbox(#[from] std::io::Error),
}

/// One mail to send: a plain-text part (always) and an HTML part.
#[derive(Clone, Debug)]
pub struct OutgoingMail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// A real SMTP server (pooled connections).
    Smtp {
        /// The transport.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The sender.
        from: Mailbox,
    },
    /// The outbox log file.
    OutboxLog {
        /// Path of `outbox.log`.
        path: PathBuf,
        /// The sender.
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp { from, .. } => write!(f, "Mailer::Smtp(from {from})"),
            Self::OutboxLog { path, .. } => write!(f, "Mailer::OutboxLog({})", path.display()),
        }
    }
}

impl Mailer {
    /// Builds the mailer the configuration asks for. Does not connect yet.
    pub fn from_config(config: &Config) -> Result<Mailer, MailError> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| MailError::Invalid(format!("SMTP_FROM: {e}")))?;
        match &config.smtp {
            Some(smtp) => Ok(Mailer::Smtp {
                transport: smtp_transport(smtp)?,
                from,
            }),
            None => Ok(Mailer::OutboxLog {
                path: config.data_dir.join("outbox.log"),
                from,
            }),
        }
    }

    /// Which kind of transport this is.
    pub fn transport(&self) -> MailTransport {
        match self {
            Self::Smtp { .. } => MailTransport::Smtp,
            Self::OutboxLog { .. } => MailTransport::OutboxLog,
        }
    }

    /// Sends one mail, or appends it to the outbox log.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let (from, to) = match self {
            Self::Smtp { from, .. } | Self::OutboxLog { from, .. } => (from, &mail.to),
        };
        let to: Mailbox = to
            .parse()
            .map_err(|e| MailError::Invalid(format!("recipient {to:?}: {e}")))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(&mail.subject)
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| MailError::Invalid(e.to_string()))?;
        match self {
            Self::Smtp { transport, .. } => {
                transport.send(message).await?;
            }
            Self::OutboxLog { path, .. } => {
                let mut file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await?;
                let mut entry = message.formatted();
                entry.extend_from_slice(b"\r\n.\r\n");
                file.write_all(&entry).await?;
                file.flush().await?;
            }
        }
        Ok(())
    }
}

fn smtp_transport(smtp: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let builder = match (&smtp.ca_file, smtp.security) {
        (_, SmtpSecurity::Plain) => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        }
        (None, SmtpSecurity::Tls) => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
        (None, SmtpSecurity::StartTls) => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
        }
        (Some(ca_file), security) => {
            let pem = std::fs::read(ca_file).map_err(|e| {
                MailError::Invalid(format!(
                    "SMTP_CA_FILE: cannot read {}: {e}",
                    ca_file.display()
                ))
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                MailError::Invalid(format!(
                    "SMTP_CA_FILE: {} is not a PEM certificate: {e}",
                    ca_file.display()
                ))
            })?;
            let params = TlsParameters::builder(smtp.host.clone())
                .add_root_certificate(cert)
                .build_rustls()?;
            let tls = if security == SmtpSecurity::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            };
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host).tls(tls)
        }
    };
    let builder = builder
        .port(smtp.port)
        .timeout(Some(std::time::Duration::from_secs(15)));
    let builder = match &smtp.credentials {
        Some((user, password)) => {
            builder.credentials(Credentials::new(user.clone(), password.expose().clone()))
        }
        None => builder,
    };
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_smtp_mail_lands_in_the_outbox_log() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::OutboxLog {
            path: dir.path().join("outbox.log"),
            from: "AiCarpool <noreply@example.com>".parse().unwrap(),
        };
        assert_eq!(mailer.transport(), MailTransport::OutboxLog);
        let mail = OutgoingMail {
            to: "ada@example.com".into(),
            subject: "邀请 / Invitation".into(),
            text: "Open http://localhost:3000/invite/abc".into(),
            html: "<p>Open <a href=\"http://localhost:3000/invite/abc\">the link</a></p>".into(),
        };
        mailer.send(&mail).await.unwrap();
        mailer.send(&mail).await.unwrap();
        let log = std::fs::read_to_string(dir.path().join("outbox.log")).unwrap();
        assert_eq!(log.matches("To: ada@example.com").count(), 2);
        assert!(log.contains("http://localhost:3000/invite/abc"));
        assert!(log.contains("text/plain") && log.contains("text/html"));

        let bad = OutgoingMail {
            to: "not an address".into(),
            ..mail
        };
        assert!(matches!(
            mailer.send(&bad).await,
            Err(MailError::Invalid(_))
        ));
    }
}
