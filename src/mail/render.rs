//! Mails in the member's language: the words come from the `[mail]` section of
//! `web/locales/*.toml`, a plain-text part always, and a simple HTML part beside it. Subjects
//! are generic on purpose: a mail preview on a shared phone never says which group or
//! condition the member belongs to.

use askama::Template;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::{Mail, Mailer};
use crate::accounts::types::Locale;
use crate::error::AppResult;
use crate::i18n;

#[derive(Template)]
#[template(path = "mail_password_reset.html")]
struct ResetHtml<'a> {
    lang: &'a str,
    subject: &'a str,
    greeting: &'a str,
    paragraphs: &'a [String],
    link: &'a str,
    button: &'a str,
    signature: &'a str,
}

/// The password reset mail for `username`, with its one-time `link` that works `minutes`.
pub fn password_reset(
    locale: Locale,
    to: &str,
    username: &str,
    link: &str,
    minutes: u64,
) -> AppResult<Mail> {
    let t = i18n::texts(locale);
    let subject = t.get("mail.reset_subject").to_owned();
    let greeting = t.fill("mail.greeting", &[("name", username)]);
    let minutes = minutes.to_string();
    let paragraphs = vec![
        t.get("mail.reset_why").to_owned(),
        t.fill("mail.reset_open", &[("n", &minutes)]),
    ];
    let after = [
        t.get("mail.reset_not_you").to_owned(),
        t.get("mail.reset_never_ask").to_owned(),
    ];
    let signature = t.get("mail.signature");
    let mut text = format!("{greeting}\n\n");
    for p in &paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
    }
    text.push_str(link);
    text.push_str("\n\n");
    for p in &after {
        text.push_str(p);
        text.push_str("\n\n");
    }
    text.push_str(signature);
    text.push('\n');
    let all: Vec<String> = paragraphs.iter().chain(after.iter()).cloned().collect();
    let html = ResetHtml {
        lang: locale.as_str(),
        subject: &subject,
        greeting: &greeting,
        paragraphs: &all,
        link,
        button: t.get("mail.reset_button"),
        signature,
    }
    .render()
    .map_err(anyhow::Error::from)?;
    Ok(Mail {
        to: to.to_owned(),
        subject,
        text,
        html: Some(html),
        unsubscribe: None,
    })
}

/// One line of a notice: what happened, in words that never quote anyone, and where to see it.
pub struct Line {
    pub text: String,
    pub link: String,
}

/// A group of lines under an optional heading (a digest's "Group 1").
pub struct Section {
    pub heading: Option<String>,
    pub lines: Vec<Line>,
}

/// What a notice says: the same shape serves verification, notification and digest mails.
pub struct Notice<'a> {
    pub locale: Locale,
    pub to: &'a str,
    pub subject: String,
    pub greeting: String,
    /// Before the sections.
    pub intro: Vec<String>,
    pub sections: Vec<Section>,
    /// A main button, when there is one thing to do (verify the address).
    pub button: Option<(String, String)>,
    /// After the sections.
    pub outro: Vec<String>,
    /// The one-click unsubscribe address; the footer links to it too.
    pub unsubscribe: Option<String>,
    pub unsubscribe_label: Option<String>,
}

#[derive(Template)]
#[template(path = "mail_notice.html")]
struct NoticeHtml<'a> {
    lang: &'a str,
    n: &'a Notice<'a>,
    signature: &'a str,
}

/// A notice as plain text and HTML.
pub fn notice(n: &Notice<'_>) -> AppResult<Mail> {
    let t = i18n::texts(n.locale);
    let signature = t.get("mail.signature");
    let mut text = format!("{}\n\n", n.greeting);
    for p in &n.intro {
        text.push_str(p);
        text.push_str("\n\n");
    }
    if let Some((label, link)) = &n.button {
        text.push_str(&format!("{label}:\n{link}\n\n"));
    }
    for section in &n.sections {
        if let Some(h) = &section.heading {
            text.push_str(h);
            text.push('\n');
        }
        for line in &section.lines {
            text.push_str(&format!("- {}\n  {}\n", line.text, line.link));
        }
        text.push('\n');
    }
    for p in &n.outro {
        text.push_str(p);
        text.push_str("\n\n");
    }
    if let (Some(link), Some(label)) = (&n.unsubscribe, &n.unsubscribe_label) {
        text.push_str(&format!("{label}: {link}\n\n"));
    }
    text.push_str(signature);
    text.push('\n');
    let html = NoticeHtml {
        lang: n.locale.as_str(),
        n,
        signature,
    }
    .render()
    .map_err(anyhow::Error::from)?;
    Ok(Mail {
        to: n.to.to_owned(),
        subject: n.subject.clone(),
        text,
        html: Some(html),
        unsubscribe: n.unsubscribe.clone(),
    })
}

/// The mail as a MIME message from the configured sender.
pub fn message(mailer: &Mailer, mail: &Mail) -> AppResult<Message> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| anyhow::anyhow!("the member's address cannot be used: {e}"))?;
    let from = mailer.from().clone();
    let domain = from.email.domain().to_owned();
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .date_now()
        .message_id(Some(format!(
            "<{}@{domain}>",
            crate::accounts::session::random_secret()
        )));
    if let Some(link) = &mail.unsubscribe {
        // RFC 2369 and RFC 8058: mail clients offer "unsubscribe" and POST to the link with
        // `List-Unsubscribe=One-Click`. No `mailto:` beside it: nothing here reads incoming
        // mail, so a mailto would promise what the site cannot do.
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{link}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    let plain = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(mail.text.clone());
    let message = match &mail.html {
        Some(html) => builder.multipart(
            MultiPart::alternative().singlepart(plain).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
        ),
        None => builder.singlepart(plain),
    };
    Ok(message.map_err(|e| anyhow::anyhow!("building a mail: {e}"))?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_the_link_and_no_health_words() {
        for locale in [Locale::En, Locale::Es, Locale::Hi] {
            let mail = password_reset(
                locale,
                "ana@example.org",
                "ana_m",
                "https://mutual.example.org/password-reset/abc",
                30,
            )
            .unwrap();
            assert!(
                mail.text
                    .contains("https://mutual.example.org/password-reset/abc")
            );
            assert!(mail.text.contains("ana_m"));
            assert!(mail.text.contains("30"));
            let html = mail.html.unwrap();
            assert!(html.contains("href=\"https://mutual.example.org/password-reset/abc\""));
            assert!(!mail.subject.to_lowercase().contains("diabet"));
        }
    }

    #[test]
    fn names_are_escaped_in_html() {
        let mail =
            password_reset(Locale::En, "a@example.org", "<b>x</b>", "https://x/y", 30).unwrap();
        assert!(!mail.html.unwrap().contains("<b>x</b>"));
    }
}
