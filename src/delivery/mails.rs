//! Notification mails: the jobs that turn a member's new notifications into outbox rows, and
//! the rendering of those rows when the mail worker sends them.
//!
//! Each member has a watermark (`delivery_settings.mailed_up_to`): notifications above it are
//! not yet mailed. A job moves it with a compare-and-set (`... WHERE mailed_up_to = $old`) in
//! the transaction that queues the mail, so with several nodes each notification is queued
//! once, by whichever node wins, and a crash either queues the mail or leaves the watermark.
//!
//! - Immediate: coalesced. Once the oldest unmailed notification is `MUTUAL_MAIL_COALESCE_SECS`
//!   old (2 minutes by default), everything that arrived meanwhile goes in one mail. A lively
//!   thread would otherwise send a mail per reply, which members turn off (or which marks the
//!   site as spam); a short wait also lets a member who is on the site read them there first,
//!   and what they read is not mailed.
//! - Daily and weekly digests: at 08:00 in the member's time zone (Mondays for weekly), the job
//!   claims the member by moving `digest_due_at` to the next one and the watermark to the newest
//!   notification, and queues one digest for the range, grouped by community.
//!
//! A mail says what happened and where, never what anyone wrote nor a group's name: "2 new
//! replies in your group", with a link to the page. Groups in a digest are numbered.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{DeliveryKind, Frequency, Settings};
use crate::accounts::types::Locale;
use crate::app::AppState;
use crate::clock::Zone;
use crate::db;
use crate::error::AppResult;
use crate::i18n::{self, Texts};
use crate::mail::{self, Kind, Mail, render};
use crate::notify;
use crate::store::{AsDb, now_ms};

/// What a queued notification mail covers: notification ids in `(from, to]`.
#[derive(Serialize, Deserialize)]
struct Range {
    from: i64,
    to: i64,
}

/// Whether any notification of the member in `(from, to]` is unread and of a kind they want.
async fn anything_to_say(
    conn: &mut impl AsDb,
    user_id: i64,
    settings: &Settings,
    from: i64,
    to: i64,
) -> AppResult<bool> {
    let kinds = db!(
        *conn,
        fetch_all scalar String,
        "SELECT DISTINCT kind FROM notifications WHERE user_id = $1 AND id > $2 AND id <= $3 AND read_at IS NULL",
        user_id,
        from,
        to
    )?;
    Ok(kinds
        .iter()
        .filter_map(|k| notify::Kind::parse(k))
        .any(|k| settings.wants(DeliveryKind::of(k))))
}

#[derive(sqlx::FromRow)]
struct Waiting {
    user_id: i64,
    mailed_up_to: i64,
    newest: i64,
}

/// Queues immediate mails whose coalescing window has passed; how many were queued.
pub async fn queue_immediate(state: &AppState) -> AppResult<usize> {
    let now = now_ms();
    let window_ms = (state.config.mail_coalesce_secs as i64) * 1000;
    let waiting = {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_all as Waiting,
            "SELECT d.user_id, d.mailed_up_to, MAX(n.id) AS newest
             FROM delivery_settings d
             JOIN users u ON u.id = d.user_id
             JOIN notifications n ON n.user_id = d.user_id AND n.id > d.mailed_up_to
             WHERE d.email = 'immediate' AND u.email_verified_at IS NOT NULL AND u.email IS NOT NULL
             GROUP BY d.user_id, d.mailed_up_to
             HAVING MIN(n.created_at) <= $1
             ORDER BY d.user_id LIMIT 200",
            now - window_ms
        )?
    };
    let mut queued = 0;
    for w in waiting {
        let mut tx = state.store.begin().await?;
        let claimed = db!(
            tx,
            execute,
            "UPDATE delivery_settings SET mailed_up_to = $3
             WHERE user_id = $1 AND mailed_up_to = $2 AND email = 'immediate'",
            w.user_id,
            w.mailed_up_to,
            w.newest
        )?;
        if claimed != 1 {
            continue;
        }
        let settings = super::load(&mut tx, w.user_id).await?;
        if anything_to_say(&mut tx, w.user_id, &settings, w.mailed_up_to, w.newest).await? {
            let range = Range {
                from: w.mailed_up_to,
                to: w.newest,
            };
            let payload = serde_json::to_string(&range).map_err(anyhow::Error::from)?;
            mail::outbox::enqueue_payload(&mut tx, w.user_id, Kind::Notifications, &payload)
                .await?;
            queued += 1;
        }
        tx.commit().await?;
    }
    if queued > 0 {
        state.mail.wake();
    }
    Ok(queued)
}

#[derive(sqlx::FromRow)]
struct DueDigest {
    user_id: i64,
    email: String,
    mailed_up_to: i64,
    digest_due_at: i64,
    timezone: String,
    address: Option<String>,
    verified_at: Option<i64>,
}

/// Queues the daily and weekly digests that are due; how many were queued.
pub async fn queue_digests(state: &AppState) -> AppResult<usize> {
    let now = now_ms();
    let due = {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_all as DueDigest,
            "SELECT d.user_id, d.email, d.mailed_up_to, d.digest_due_at, u.timezone,
                    u.email AS address, u.email_verified_at AS verified_at
             FROM delivery_settings d JOIN users u ON u.id = d.user_id
             WHERE d.email IN ('daily', 'weekly') AND d.digest_due_at IS NOT NULL AND d.digest_due_at <= $1
             ORDER BY d.digest_due_at LIMIT 200",
            now
        )?
    };
    let mut queued = 0;
    for d in due {
        let freq = Frequency::parse(&d.email).unwrap_or(Frequency::Off);
        let next = super::next_digest(freq, Zone::from_stored(&d.timezone), now);
        let mut tx = state.store.begin().await?;
        let newest = db!(
            tx,
            fetch_one scalar i64,
            "SELECT COALESCE(MAX(id), 0) FROM notifications WHERE user_id = $1",
            d.user_id
        )?
        .max(d.mailed_up_to);
        // The claim: whichever node moves both marks first sends this digest.
        let claimed = db!(
            tx,
            execute,
            "UPDATE delivery_settings SET digest_due_at = $4, mailed_up_to = $5
             WHERE user_id = $1 AND digest_due_at = $2 AND mailed_up_to = $3",
            d.user_id,
            d.digest_due_at,
            d.mailed_up_to,
            next,
            newest
        )?;
        if claimed != 1 {
            continue;
        }
        let settings = super::load(&mut tx, d.user_id).await?;
        if d.address.is_some()
            && d.verified_at.is_some()
            && anything_to_say(&mut tx, d.user_id, &settings, d.mailed_up_to, newest).await?
        {
            let range = Range {
                from: d.mailed_up_to,
                to: newest,
            };
            let payload = serde_json::to_string(&range).map_err(anyhow::Error::from)?;
            mail::outbox::enqueue_payload(&mut tx, d.user_id, Kind::Digest, &payload).await?;
            queued += 1;
        }
        tx.commit().await?;
    }
    if queued > 0 {
        state.mail.wake();
    }
    Ok(queued)
}

#[derive(sqlx::FromRow)]
struct Recipient {
    username: String,
    email: Option<String>,
    email_verified_at: Option<i64>,
    locale: String,
}

#[derive(sqlx::FromRow)]
struct Item {
    kind: String,
    community_id: Option<i64>,
    topic_id: Option<i64>,
    post_seq: Option<i64>,
    subject_type: Option<String>,
    subject_id: Option<i64>,
}

/// How a notification is put in a mail: which words (`delivery.line_KEY_one|many`).
fn line_key(kind: notify::Kind) -> &'static str {
    use notify::Kind as N;
    match kind {
        N::EventCancelled => "event_cancelled",
        N::Anniversary => "anniversary",
        other => DeliveryKind::of(other).as_str(),
    }
}

/// Where a notification points, as a path of the site that names no group.
fn path_of(kind: DeliveryKind, item: &Item) -> String {
    match (item.subject_type.as_deref(), item.subject_id) {
        (Some("goal"), Some(id)) => return format!("/goals#goal-{id}"),
        (Some("event"), Some(id)) => return format!("/events/{id}"),
        (Some("circle"), Some(id)) => return format!("/circles/{id}"),
        _ => {}
    }
    match kind {
        DeliveryKind::Moderation => "/me/moderation".into(),
        // The review queue's address holds the group's name: the alerts page links to it.
        DeliveryKind::Reports => "/notifications".into(),
        _ => match (item.topic_id, item.post_seq) {
            (Some(t), Some(seq)) => format!("/t/{t}#post-{seq}"),
            (Some(t), None) => format!("/t/{t}"),
            _ => "/notifications".into(),
        },
    }
}

/// One line being gathered: its words' key, how many, and the first one's link.
struct Gathered {
    key: &'static str,
    kind: DeliveryKind,
    count: usize,
    link: String,
}

fn words(t: &Texts, key: &str, count: usize) -> String {
    if count == 1 {
        t.get(&format!("delivery.line_{key}_one")).to_owned()
    } else {
        t.fill(
            &format!("delivery.line_{key}_many"),
            &[("n", &t.number(count as i64))],
        )
    }
}

/// Renders a notification mail or digest for the range in `payload`; `None` when there is no
/// verified address, mail is off, or nothing in the range is left to say.
pub async fn compose(
    state: &AppState,
    user_id: i64,
    digest: bool,
    payload: Option<&str>,
) -> AppResult<Option<Mail>> {
    let Some(range) = payload.and_then(|p| serde_json::from_str::<Range>(p).ok()) else {
        return Ok(None);
    };
    let mut conn = state.store.read().await?;
    let Some(who) = db!(
        conn,
        fetch_optional as Recipient,
        "SELECT username, email, email_verified_at, locale FROM users WHERE id = $1",
        user_id
    )?
    else {
        return Ok(None);
    };
    let (Some(to), Some(_)) = (who.email, who.email_verified_at) else {
        return Ok(None);
    };
    let settings = super::load(&mut conn, user_id).await?;
    if settings.email == Frequency::Off {
        return Ok(None);
    }
    let items = db!(
        conn,
        fetch_all as Item,
        "SELECT n.kind, n.community_id, n.topic_id, p.seq AS post_seq, n.subject_type, n.subject_id
         FROM notifications n LEFT JOIN posts p ON p.id = n.post_id
         WHERE n.user_id = $1 AND n.id > $2 AND n.id <= $3 AND n.read_at IS NULL
         ORDER BY n.id",
        user_id,
        range.from,
        range.to
    )?;
    drop(conn);
    // Grouped by community (in order of first appearance), then by what happened and where.
    let mut order: Vec<Option<i64>> = Vec::new();
    let mut groups: BTreeMap<Option<i64>, Vec<(String, Gathered)>> = BTreeMap::new();
    let mut total = 0;
    for item in &items {
        let Some(kind) = notify::Kind::parse(&item.kind) else {
            continue;
        };
        let delivery = DeliveryKind::of(kind);
        if !settings.wants(delivery) {
            continue;
        }
        total += 1;
        let key = line_key(kind);
        let link = path_of(delivery, item);
        let place = link.split('#').next().unwrap_or_default().to_owned();
        if !order.contains(&item.community_id) {
            order.push(item.community_id);
        }
        let lines = groups.entry(item.community_id).or_default();
        let id = format!("{key} {place}");
        match lines.iter_mut().find(|(k, _)| *k == id) {
            Some((_, g)) => g.count += 1,
            None => lines.push((
                id,
                Gathered {
                    key,
                    kind: delivery,
                    count: 1,
                    link,
                },
            )),
        }
    }
    if total == 0 {
        return Ok(None);
    }
    let locale = Locale::parse(&who.locale).unwrap_or_default();
    let t = i18n::texts(locale);
    let base = state.mail.base_url().to_owned();
    let several = order.len() > 1;
    let mut number: i64 = 0;
    let mut kinds: Vec<DeliveryKind> = Vec::new();
    let mut sections = Vec::new();
    for community in &order {
        let lines = groups.remove(community).unwrap_or_default();
        let heading = match community {
            _ if !several => None,
            Some(_) => {
                number += 1;
                Some(t.fill("delivery.group_heading", &[("n", &t.number(number))]))
            }
            None => Some(t.get("delivery.own_heading").to_owned()),
        };
        sections.push(render::Section {
            heading,
            lines: lines
                .into_iter()
                .map(|(_, g)| {
                    if !kinds.contains(&g.kind) {
                        kinds.push(g.kind);
                    }
                    render::Line {
                        text: words(t, g.key, g.count),
                        link: format!("{base}{}", g.link),
                    }
                })
                .collect(),
        });
    }
    let only_line = match sections.as_slice() {
        [s] if s.lines.len() == 1 => s.lines.first().map(|l| l.text.clone()),
        _ => None,
    };
    let subject = if digest {
        if settings.email == Frequency::Weekly {
            t.get("delivery.digest_subject_weekly").to_owned()
        } else {
            t.get("delivery.digest_subject_daily").to_owned()
        }
    } else {
        only_line
            .unwrap_or_else(|| t.fill("delivery.subject_many", &[("n", &t.number(total as i64))]))
    };
    // One kind in the mail: the link turns that kind off; several: all e-mail.
    let unsubscribe_kind = match kinds.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    let token = {
        let mut w = state.store.write().await?;
        super::unsubscribe::mint(&mut w, user_id, unsubscribe_kind).await?
    };
    let unsubscribe_label = if unsubscribe_kind.is_some() {
        t.get("delivery.unsubscribe_kind")
    } else {
        t.get("delivery.unsubscribe_all")
    };
    let notice = render::Notice {
        locale,
        to: &to,
        subject,
        greeting: t.fill("mail.greeting", &[("name", &who.username)]),
        intro: vec![
            if digest {
                t.get("delivery.digest_intro")
            } else {
                t.get("delivery.immediate_intro")
            }
            .to_owned(),
        ],
        sections,
        button: None,
        outro: vec![
            t.get("delivery.private").to_owned(),
            t.fill(
                "delivery.settings_link",
                &[("url", &format!("{base}/settings#email"))],
            ),
        ],
        unsubscribe: Some(format!("{base}/unsubscribe/{token}")),
        unsubscribe_label: Some(unsubscribe_label.to_owned()),
    };
    Ok(Some(render::notice(&notice)?))
}
