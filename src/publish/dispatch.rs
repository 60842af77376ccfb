//! What follows a forum write, in one place for every path (new topic, reply, scheduled thread,
//! edit, retitle): `stage` runs inside the write's transaction (referrals, the milestone and its
//! followers, search, the verdict's hold/flag/crisis, notification rows); `Staged::publish` runs
//! after commit (live notifications, the moderators' alert) and answers the author's crisis
//! lines. The reply writer calls `stage` once per reply of its group, with what it read before
//! the transaction, so it adds no query.

use crate::accounts::types::Locale;
use crate::error::AppResult;
use crate::milestones::{Placement, Prepared};
use crate::moderation::Screened;
use crate::moderation::crisis::{self, CrisisLine};
use crate::notify::{self, Cause, Recipients, Sent};
use crate::realtime::Realtime;
use crate::store::Tx;

use super::Verdict;

/// A post just written in the transaction, and how.
pub struct Written<'a> {
    pub community_id: i64,
    pub topic_id: i64,
    pub post_id: i64,
    /// `None` for a scheduled thread whose organiser no longer organises.
    pub author_id: Option<i64>,
    pub anonymous: bool,
    /// In an "only me" topic: not counted, indexed, screened into a case nor notified.
    pub private: bool,
    /// A new post (counted for referrals and indexed) rather than a changed one (re-indexed).
    pub new: bool,
    /// A new post its writer indexes itself after the transaction's other writes
    /// (`search::index_many`), which it may only when `Verdict::keeps_post_findable`.
    pub indexed_later: bool,
    /// The author's session says a referral link brought them and no post counted it yet
    /// (`Session::referred`): only then is the referral asked about.
    pub referred: bool,
    /// The topic's title, for an opening post; indexed and screened with the body.
    pub title: Option<&'a str>,
    pub body: &'a str,
}

impl Written<'_> {
    /// The text screened and snapshotted in a case.
    fn text(&self) -> String {
        match self.title {
            Some(t) => format!("{t}\n{}", self.body),
            None => self.body.to_owned(),
        }
    }
}

/// What a write left to do after its transaction commits.
#[must_use = "publish after the transaction commits"]
pub struct Staged {
    sent: Sent,
    screened: Option<Screened>,
    /// An "only me" post in crisis: its author still gets the lines, though no case opens.
    private_crisis: bool,
    /// The stage changed the post's row or what shows with it (held, crisis review, milestone).
    row_changed: bool,
    /// This post counted for the referral that brought its author, who is no longer `referred`.
    referral_counted: Option<i64>,
}

/// The side effects of a post written in `tx`: everything that must commit with it.
pub async fn stage(
    tx: &mut Tx,
    w: &Written<'_>,
    verdict: &Verdict,
    milestone: Option<&Prepared>,
    mut recipients: Recipients,
) -> AppResult<Staged> {
    // A member's own post counts for the referral that brought them; a scheduled thread does not.
    let mut referral_counted = None;
    if let Some(author_id) = w.author_id
        && w.new
        && w.referred
        && !w.private
        && !verdict.is_staff()
        && crate::referrals::on_post(tx, w.community_id, author_id).await?
    {
        referral_counted = Some(author_id);
    }
    if let (Some(m), Some(author_id)) = (milestone, w.author_id) {
        let placement = Placement {
            community_id: w.community_id,
            author_id,
            topic_id: w.topic_id,
            post_id: w.post_id,
        };
        crate::milestones::record(tx, m, &placement).await?;
    }
    let mut row_changed = milestone.is_some();
    let screened = if w.private {
        // "Only me": nobody else may find, review or hear of it.
        recipients = Recipients::default();
        None
    } else {
        if !w.new {
            // The one rule for what search may hold (not hidden, held or "only me" posts).
            crate::search::reindex_post(tx, w.post_id).await?;
        } else if !w.indexed_later {
            crate::search::index_post(tx, w.post_id, w.title, w.body).await?;
        }
        match w.author_id {
            Some(author_id) => {
                let (screened, held) = verdict
                    .apply_post(tx, w.community_id, w.post_id, author_id, &w.text())
                    .await?;
                // Followers hear of a shared milestone, but not of an anonymous one (that
                // would name its author) nor of one held until a moderator approves it (the
                // community's staff never are).
                if milestone.is_some() && !w.anonymous && !held {
                    crate::milestones::add_followers(tx, author_id, &mut recipients).await?;
                }
                row_changed |= held || verdict.crisis();
                Some(screened)
            }
            None => None,
        }
    };
    let sent = match w.author_id {
        Some(author_id) => {
            let cause = Cause {
                community_id: w.community_id,
                topic_id: w.topic_id,
                post_id: w.post_id,
                actor_id: (!w.anonymous).then_some(author_id),
                author_id,
            };
            notify::send(tx, &cause, recipients).await?
        }
        None => Sent::default(),
    };
    Ok(Staged {
        sent,
        screened,
        private_crisis: w.private && verdict.shows_lines(),
        row_changed,
        referral_counted,
    })
}

impl Staged {
    /// For server-written text the staff verdict stages nothing to publish.
    pub fn discard(self) {}

    /// The post's row is as the write inserted it: nothing was held, put under review or
    /// attached (a milestone), so the writer may answer from what it wrote without reading back.
    pub fn row_as_written(&self) -> bool {
        !self.row_changed
    }

    /// Publishes what the committed write announces; the crisis lines for its author (for
    /// `country` and `locale` when no case looked them up).
    pub fn publish(
        self,
        realtime: &Realtime,
        locale: Locale,
        country: Option<&str>,
    ) -> Option<Vec<CrisisLine>> {
        self.sent.publish(realtime);
        if let Some(author) = self.referral_counted {
            realtime.member_changed(author);
        }
        match self.screened {
            Some(s) => s.publish(realtime),
            None => self
                .private_crisis
                .then(|| crisis::lines_for_country(country, locale)),
        }
    }
}
