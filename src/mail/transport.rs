//! The ways a mail leaves the node: an SMTP server (`MUTUAL_SMTP_URL`), or, with nothing
//! configured, a `.eml` file per mail under `MUTUAL_MAIL_DIR` and a log line, so a fresh
//! install still lets an admin pass a reset link on by hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

/// How long one SMTP conversation may take; the outbox lease is longer.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub enum Transport {
    Smtp {
        mailer: AsyncSmtpTransport<Tokio1Executor>,
        /// The URL without its password, for logs.
        shown: String,
    },
    Files(PathBuf),
}

impl Transport {
    pub fn new(config: &Config) -> anyhow::Result<Transport> {
        match &config.smtp_url {
            Some(url) => {
                let mailer = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("MUTUAL_SMTP_URL is not an smtp:// or smtps:// address")?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Ok(Transport::Smtp {
                    mailer,
                    shown: without_password(url),
                })
            }
            None => Ok(Transport::Files(config.mail_dir.clone())),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp { shown, .. } => format!("SMTP via {shown}"),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        }
    }

    /// Hands the mail over; `name` names its file (the outbox row), so a retry of the same
    /// row replaces the file rather than adding a second one.
    pub async fn send(&self, message: Message, name: &str) -> anyhow::Result<()> {
        match self {
            Transport::Smtp { mailer, .. } => {
                mailer.send(message).await.context("SMTP")?;
                Ok(())
            }
            Transport::Files(dir) => {
                let path = write_file(dir, name, &message.formatted()).await?;
                tracing::info!(path = %path.display(), "mail written to a file (no MUTUAL_SMTP_URL set)");
                Ok(())
            }
        }
    }
}

/// Writes beside the target and renames, so nobody ever reads half a mail.
async fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("creating the mail folder {}", dir.display()))?;
    let path = dir.join(format!("{name}.eml"));
    let partial = dir.join(format!(".{name}.eml.partial"));
    tokio::fs::write(&partial, bytes)
        .await
        .with_context(|| format!("writing {}", partial.display()))?;
    tokio::fs::rename(&partial, &path)
        .await
        .with_context(|| format!("renaming to {}", path.display()))?;
    Ok(path)
}

fn without_password(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://…{}", &url[at..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            without_password("smtp://ana:s3cret@mail.example.org:587?tls=required"),
            "smtp://…@mail.example.org:587?tls=required"
        );
        assert_eq!(
            without_password("smtp://127.0.0.1:2525"),
            "smtp://127.0.0.1:2525"
        );
    }
}
