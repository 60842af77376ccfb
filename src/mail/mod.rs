//! Mail: a durable outbox in the database, the transports that carry mail away (SMTP when
//! `MUTUAL_SMTP_URL` is set, else `.eml` files under `MUTUAL_MAIL_DIR`), and the rendering of
//! each kind of mail in the member's language.
//!
//! A capability that wants a mail sent adds an outbox row in its own transaction
//! ([`enqueue`]); once that commits the mail is not lost by a crash. The mail worker (spawned
//! with the other jobs in `app.rs`) claims due rows for a lease, renders them at that moment
//! (so secrets such as reset links exist only in the mail, never at rest), sends them and marks
//! them sent, or retries later with back-off. Claims are single conditional UPDATEs, so two
//! nodes never send one row at the same time.

pub mod outbox;
pub mod render;
pub mod transport;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lettre::message::Mailbox;
use tokio::sync::Notify;

use crate::config::Config;
pub use outbox::{Kind, enqueue};
use transport::Transport;

/// A rendered mail, ready to be addressed and sent.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// The one-click unsubscribe address (RFC 8058) of a notification mail; `None` for mails
    /// a member cannot opt out of (verification, password reset).
    pub unsubscribe: Option<String>,
}

/// The node's mail settings and the bell that wakes the mail worker. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` when this node leaves sending to others (`MUTUAL_MAIL_DELIVERY=off`).
    transport: Option<Transport>,
    from: Mailbox,
    /// `MUTUAL_PUBLIC_URL`, or the address this node listens on once it is bound.
    base_url: OnceLock<String>,
    wake: Notify,
}

impl Mailer {
    pub fn new(config: &Config) -> anyhow::Result<Mailer> {
        let transport = if config.mail_delivery {
            Some(Transport::new(config)?)
        } else {
            None
        };
        let from = sender(config)?;
        let base_url = OnceLock::new();
        if let Some(url) = &config.public_url {
            let _ = base_url.set(url.trim_end_matches('/').to_owned());
        }
        Ok(Mailer {
            inner: Arc::new(Inner {
                transport,
                from,
                base_url,
                wake: Notify::new(),
            }),
        })
    }

    /// Without `MUTUAL_PUBLIC_URL`, links in mails point at the address the node listens on.
    pub fn set_listen_address(&self, addr: std::net::SocketAddr) {
        let _ = self.inner.base_url.set(format!("http://{addr}"));
    }

    /// Where links in mails start, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.inner
            .base_url
            .get()
            .map_or("http://localhost", String::as_str)
    }

    /// Tells this node's worker there is mail to look at (other nodes find it by polling).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Waits until woken or until `at_most` has passed.
    pub async fn sleep(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.inner.wake.notified()).await;
    }

    pub(crate) fn transport(&self) -> Option<&Transport> {
        self.inner.transport.as_ref()
    }

    pub(crate) fn from(&self) -> &Mailbox {
        &self.inner.from
    }

    /// What the log and the readiness page can say about delivery.
    pub fn describe(&self) -> String {
        match &self.inner.transport {
            Some(t) => t.describe(),
            None => "off on this node".into(),
        }
    }
}

/// `MUTUAL_MAIL_FROM`, or no-reply at the public address's host.
fn sender(config: &Config) -> anyhow::Result<Mailbox> {
    use anyhow::Context;
    if let Some(raw) = &config.mail_from {
        return raw
            .parse()
            .with_context(|| format!("MUTUAL_MAIL_FROM {raw:?} is not a mail address"));
    }
    let host = config
        .public_url
        .as_deref()
        .and_then(|u| u.split("://").nth(1))
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| h.contains('.'))
        .unwrap_or("localhost");
    format!("Mutual <no-reply@{host}>")
        .parse()
        .context("making the default sender address")
}
