//! Mails in the member's language: the words come from the `[mail]` section of
//! `web/locales/*.toml`, a plain-text part always, and a simple HTML part beside it. Subjects
//! are generic on purpose: a mail preview on a shared phone never says which group or
//! condition the member belongs to.

use askama::Template;
use lettre::Message;
use lettre::message::header::ContentType;
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
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .date_now()
        .message_id(Some(format!(
            "<{}@{domain}>",
            crate::accounts::session::random_secret()
        )));
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
