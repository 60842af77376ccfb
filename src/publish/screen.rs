//! The one screening of member text before it is written: automod rules (refuse, hold, flag),
//! the new-member limits and hold, personal identifiers (refused until confirmed) and crisis
//! phrases. It decides; the write carries the verdict out in its own transaction
//! (`Verdict::apply_post`, `Verdict::apply_message`).

use crate::accounts::User;
use crate::app::AppState;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::moderation::crisis::{self, CrisisLine, Reading};
use crate::moderation::rules::FilterAction;
use crate::moderation::{Automod, Screened};
use crate::store::AsDb;
use crate::text;

/// What screening decided about text that may be written: what to do once it is stored.
pub struct Verdict {
    automod: Automod,
    /// The text screened, when its words suggest a crisis (the case's snapshot: it may hold a
    /// photo's alt text beside the words), and whether the rules found it or the scorer alone
    /// (`Reading::Crisis` or `Reading::Possible`).
    crisis: Option<(Reading, String)>,
    /// Written by the server from an organiser's template, not by a member posting.
    staff: bool,
}

impl Verdict {
    /// Text the server writes from an organiser's template (scheduled themed threads, session
    /// summaries): the organiser is staff and wrote it once for many occurrences, so neither
    /// automod nor the new-member rules apply, and a template that talks about crisis (e.g. one
    /// listing help lines) must not open a case every week.
    pub fn staff() -> Verdict {
        Verdict {
            automod: Automod::Pass,
            crisis: None,
            staff: true,
        }
    }

    /// Server text from an organiser's template (see `staff`).
    pub fn is_staff(&self) -> bool {
        self.staff
    }

    /// The rules found words that suggest the author may be in crisis: the post is held for
    /// review.
    pub fn crisis(&self) -> bool {
        matches!(self.crisis, Some((Reading::Crisis, _)))
    }

    /// The rules or the scorer: the author is shown the crisis lines either way.
    pub fn shows_lines(&self) -> bool {
        self.crisis.is_some()
    }

    /// Nothing carrying it out can hide the post (no crisis review, no hold): it may be indexed
    /// after the other writes of its transaction. A possible crisis (the scorer alone) hides
    /// nothing.
    pub fn keeps_post_findable(&self) -> bool {
        !self.crisis() && matches!(self.automod, Automod::Pass | Automod::Flag(_))
    }

    /// Carries the verdict out on a stored post, in its transaction: the crisis flow (held for
    /// review, an urgent case, the moderators' alert and the author's lines) and automod's hold
    /// or flag. Also whether the post now waits for a moderator's approval: that is known only
    /// here, with the author's role in the community (its staff are never held).
    pub async fn apply_post(
        &self,
        conn: &mut impl AsDb,
        community_id: i64,
        post_id: i64,
        author_id: i64,
        text: &str,
    ) -> AppResult<(Screened, bool)> {
        let screened = match &self.crisis {
            Some((Reading::Crisis, screened)) => {
                crate::moderation::screen_post(conn, community_id, post_id, author_id, screened)
                    .await?
            }
            Some((_, screened)) => {
                crate::moderation::screen_possible_post(
                    conn,
                    community_id,
                    post_id,
                    author_id,
                    screened,
                )
                .await?
            }
            None => Screened::none(),
        };
        let held = crate::moderation::apply_automod(
            conn,
            &self.automod,
            community_id,
            post_id,
            author_id,
            text,
        )
        .await?;
        Ok((screened, held))
    }

    /// Carries the verdict out on a stored chat message (its own transaction, as messages are
    /// stored by the chat writer): the crisis case and alert; the author's lines.
    pub async fn apply_message(
        &self,
        state: &AppState,
        community_id: i64,
        message_id: i64,
        author_id: i64,
    ) -> Option<Vec<CrisisLine>> {
        let (reading, screened) = self.crisis.as_ref()?;
        let found = if *reading == Reading::Crisis {
            crate::moderation::screen_message(state, community_id, message_id, author_id, screened)
                .await
        } else {
            crate::moderation::screen_possible_message(
                state,
                community_id,
                message_id,
                author_id,
                screened,
            )
            .await
        };
        match found {
            Ok(lines) => Some(lines),
            Err(e) => {
                tracing::warn!(error = %e, "crisis screening of a chat message failed");
                None
            }
        }
    }
}

/// Screens forum text (a topic's title and body, a reply, an edit, a new title) before it is
/// written: 422 `body` for what automod or the new-member limits refuse, 422 `identifiers`
/// unless `confirmed`; else the verdict to carry out in the write's transaction.
pub async fn screen(
    state: &AppState,
    user: &User,
    text: &str,
    confirmed: bool,
) -> AppResult<Verdict> {
    check_identifiers(text, confirmed)?;
    let automod = crate::moderation::automod_check(state, user, text).await?;
    Ok(Verdict {
        automod,
        crisis: crisis_reading(text),
        staff: false,
    })
}

/// Screens a chat message (sent or edited): the refusal as an error frame's code and words —
/// `rejected` for what the filters refuse or would hold (a chat message cannot wait for a
/// moderator), `identifiers` unless `confirmed` — else the verdict. Chat's own new-member rule
/// is slow mode (see `chat::send`).
pub fn screen_chat(
    state: &AppState,
    text: &str,
    confirmed: bool,
) -> Result<Verdict, (&'static str, String)> {
    if let Some((action, reason)) = state.rules.get().check(text)
        && action != FilterAction::Flag
    {
        return Err(("rejected", format!("this cannot be sent here: {reason}")));
    }
    if !confirmed && let Some(names) = identifier_names(text) {
        return Err((
            "identifiers",
            format!(
                "your message seems to include personal details ({}) that others would see; remove them, or send again with \"confirm_identifiers\": true",
                names.join(", ").replace('_', " ")
            ),
        ));
    }
    Ok(Verdict {
        automod: Automod::Pass,
        crisis: crisis_reading(text),
        staff: false,
    })
}

/// What crisis detection makes of text about to be written: the rules, then the scorer.
fn crisis_reading(text: &str) -> Option<(Reading, String)> {
    match crisis::read(text) {
        Reading::Everyday => None,
        reading => Some((reading, text.to_owned())),
    }
}

/// The kinds of personal identifiers in `text`, by name; `None` when there are none.
fn identifier_names(text: &str) -> Option<Vec<String>> {
    let found = text::find_identifiers(text);
    if found.is_empty() {
        return None;
    }
    Some(
        found
            .iter()
            .map(|k| {
                serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect(),
    )
}

/// 422 `identifiers` for personal details in text the author has not confirmed publishing.
pub fn check_identifiers(text: &str, confirmed: bool) -> AppResult<()> {
    if confirmed {
        return Ok(());
    }
    let Some(names) = identifier_names(text) else {
        return Ok(());
    };
    let mut fields = FieldErrors::new();
    for name in &names {
        fields.push("identifiers", name.as_str());
    }
    Err(AppError::Invalid {
        message: format!(
            "your post seems to include personal details ({}) that others would see; remove them, or send again with \"confirm_identifiers\": true",
            names.join(", ").replace('_', " ")
        ),
        fields,
    })
}
