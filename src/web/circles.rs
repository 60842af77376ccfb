//! `/circles/{id}`: a peer circle for its people (and the group's organisers and moderators,
//! as the API allows; 404 for everyone else): who is in it, with the leaders badged, the next
//! session, the circle's private chat room, the goals members share with it, and for leaders
//! the agenda of check-ins to follow up. Circle notifications point here.

use axum::extract::Path;
use axum::response::Response;

use super::calendar::reader_zone;
use super::format::at;
use super::organise::{MemberItem, meeting_text, members_of};
use super::{Ctx, Layout, PageError};
use crate::circles::{self, CircleRole};
use crate::communities;
use crate::error::AppError;

struct GoalItem {
    title: String,
    owner: String,
}

struct AgendaItem {
    title: String,
    owner: String,
    due: bool,
    note: Option<String>,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "circle.html")]
struct CirclePage {
    l: Layout,
    slug: String,
    community_name: String,
    name: String,
    people: String,
    my_role: Option<&'static str>,
    meeting: Option<String>,
    next_session: Option<String>,
    room: Option<i64>,
    members: Vec<MemberItem>,
    /// None: not for this reader (they oversee the circle, they are not in it).
    goals: Option<Vec<GoalItem>>,
    agenda: Option<Vec<AgendaItem>>,
    /// Charts of readings members share with the circle.
    trends: Vec<TrendItem>,
}

struct TrendItem {
    src: String,
    words: String,
}

/// What the reader may not see here is left out rather than refused.
fn unless_forbidden<T>(r: Result<T, AppError>) -> Result<Option<T>, PageError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(AppError::Forbidden(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn page(ctx: Ctx, Path(id): Path<i64>) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    let circle = circles::get_circle(&ctx.state, &user, id).await?;
    let c = communities::get_community(&ctx.state, Some(&user), &circle.community).await?;
    let zone = reader_zone(&ctx).await?;
    let goals = unless_forbidden(circles::circle_goals(&ctx.state, &user, id).await)?.map(|gs| {
        gs.into_iter()
            .map(|g| GoalItem {
                title: g.title,
                owner: g.owner.display_name,
            })
            .collect()
    });
    let leads = circle.my_role.is_some_and(CircleRole::leads);
    let agenda = if leads {
        unless_forbidden(circles::agenda(&ctx.state, &user, id).await)?.map(|a| {
            a.lines
                .into_iter()
                .map(|line| AgendaItem {
                    title: line.title,
                    owner: line.owner.display_name,
                    due: line.due,
                    note: line
                        .latest
                        .and_then(|l| l.note)
                        .filter(|n| !n.trim().is_empty()),
                })
                .collect()
        })
    } else {
        None
    };
    // Trends members chose to show this circle (its people only: not for overseers).
    let trends = if circle.my_role.is_some() {
        let session = ctx.require()?;
        crate::readings::share::circle_trend_views(&ctx.state, session, id)
            .await?
            .into_iter()
            .map(|v| TrendItem {
                src: v.share.chart,
                words: v.words,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut l = ctx.layout(circle.name.clone()).await;
    l.noindex = true;
    let page = CirclePage {
        l,
        slug: c.slug,
        community_name: c.name,
        my_role: circle.my_role.map(super::organise::role_key),
        meeting: circle.meeting.as_ref().map(|m| meeting_text(ctx.texts, m)),
        next_session: circle.next_session_at.map(|ms| at(ctx.texts, zone, ms)),
        room: circle.room,
        members: members_of(&circle),
        name: circle.name,
        people: super::format::people(ctx.texts, circle.member_count, circle.capacity),
        goals,
        agenda,
        trends,
    };
    Ok(ctx.send(page))
}
