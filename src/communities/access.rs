//! The access rules of a community, computed once per request for one viewer, and the guards
//! every capability and page uses to refuse (403) who may not organise or moderate it — one
//! argument order and one message each, instead of a copy per capability.

use super::CommunityRow;
use super::types::{CommunityRole, Visibility};
use crate::accounts::User;
use crate::accounts::types::Role;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::store::AsDb;

/// What one viewer may do in one community.
#[derive(Clone, Debug, Default)]
pub struct Access {
    pub visibility: Option<Visibility>,
    /// `active`, `pending` or none.
    pub status: Option<String>,
    pub roles: Vec<CommunityRole>,
    pub site_admin: bool,
    pub site_moderator: bool,
    pub user_id: Option<i64>,
}

impl Access {
    pub fn is_member(&self) -> bool {
        self.status.as_deref() == Some("active")
    }

    /// Admins and site-wide moderators act in every community.
    pub fn site_staff(&self) -> bool {
        self.site_admin || self.site_moderator
    }

    /// Whether the community's existence may be shown.
    pub fn can_see(&self) -> bool {
        self.visibility != Some(Visibility::Private) || self.is_member() || self.site_staff()
    }

    /// Whether posts (not just titles) may be read.
    pub fn can_read(&self) -> bool {
        self.visibility == Some(Visibility::Public) || self.is_member() || self.site_staff()
    }

    /// Members post; joining is one click.
    pub fn can_post(&self) -> bool {
        self.is_member()
    }

    pub fn is_moderator(&self) -> bool {
        self.site_staff()
            || self
                .roles
                .iter()
                .any(|r| matches!(r, CommunityRole::Moderator | CommunityRole::Organiser))
    }

    pub fn is_organiser(&self) -> bool {
        self.site_admin || self.roles.contains(&CommunityRole::Organiser)
    }

    /// 403 unless the viewer organises the community (its organisers; site admins).
    pub fn require_organiser(&self) -> AppResult<()> {
        if self.is_organiser() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "only the community's organisers may do this",
            ))
        }
    }

    /// 403 unless the viewer moderates the community (its moderators and organisers; site staff).
    pub fn require_moderator(&self) -> AppResult<()> {
        if self.is_moderator() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "only the community's moderators may do this",
            ))
        }
    }
}

/// The community at `slug` for one of its organisers: 404 when the viewer may not know it
/// exists, 403 when they do not organise it.
pub async fn organised_community(
    conn: &mut impl AsDb,
    slug: &str,
    user: &User,
) -> AppResult<(CommunityRow, Access)> {
    let (community, access) = super::visible_community(conn, slug, Some(user)).await?;
    access.require_organiser()?;
    Ok((community, access))
}

pub async fn community_roles(
    conn: &mut impl AsDb,
    community_id: i64,
    user_id: i64,
) -> AppResult<Vec<CommunityRole>> {
    let names = db!(
        *conn,
        fetch_all scalar String,
        "SELECT role FROM community_roles WHERE community_id = $1 AND user_id = $2",
        community_id,
        user_id
    )?;
    let mut roles: Vec<CommunityRole> = names
        .iter()
        .filter_map(|n| CommunityRole::parse(n).ok())
        .collect();
    roles.sort();
    Ok(roles)
}

pub async fn load_access(
    conn: &mut impl AsDb,
    community: &CommunityRow,
    viewer: Option<&User>,
) -> AppResult<Access> {
    let status = match viewer {
        Some(user) => db!(
            *conn,
            fetch_optional scalar String,
            "SELECT status FROM memberships WHERE community_id = $1 AND user_id = $2",
            community.id,
            user.id
        )?,
        None => None,
    };
    access_with_status(conn, community, viewer, status).await
}

/// The viewer's community roles read as columns of a larger query (`r_moderator`,
/// `r_organiser`, `r_welcomer`, each an `EXISTS` on `community_roles`), so a page that reads its
/// community with the viewer's membership needs no second round trip for them.
#[derive(sqlx::FromRow, Clone, Copy, Debug, Default)]
pub struct RoleColumns {
    r_moderator: bool,
    r_organiser: bool,
    r_welcomer: bool,
}

impl RoleColumns {
    /// The roles, sorted as `community_roles` gives them. The match is exhaustive so that a new
    /// role cannot be forgotten in the queries that read these columns.
    fn roles(&self) -> Vec<CommunityRole> {
        [
            CommunityRole::Moderator,
            CommunityRole::Organiser,
            CommunityRole::Welcomer,
        ]
        .into_iter()
        .filter(|role| match role {
            CommunityRole::Moderator => self.r_moderator,
            CommunityRole::Organiser => self.r_organiser,
            CommunityRole::Welcomer => self.r_welcomer,
        })
        .collect()
    }
}

/// As `access_with_status`, when the viewer's roles were read with the community too.
pub fn access_with_roles(
    community: &CommunityRow,
    viewer: Option<&User>,
    status: Option<String>,
    roles: &RoleColumns,
) -> Access {
    let mut access = viewer_access(community, viewer, status);
    if access.is_member() {
        access.roles = roles.roles();
    }
    access
}

/// What the viewer may do in `community`, short of their community roles.
fn viewer_access(
    community: &CommunityRow,
    viewer: Option<&User>,
    status: Option<String>,
) -> Access {
    let mut access = Access {
        visibility: Some(community.visibility()),
        ..Access::default()
    };
    if let Some(user) = viewer {
        access.user_id = Some(user.id);
        access.site_admin = user.is_admin();
        access.site_moderator = user.has_role(Role::Moderator);
        access.status = status;
    }
    access
}

/// As `load_access`, when the viewer's membership status was read with the community.
pub async fn access_with_status(
    conn: &mut impl AsDb,
    community: &CommunityRow,
    viewer: Option<&User>,
    status: Option<String>,
) -> AppResult<Access> {
    let mut access = viewer_access(community, viewer, status);
    if let Some(user) = viewer
        && access.is_member()
    {
        access.roles = community_roles(conn, community.id, user.id).await?;
    }
    Ok(access)
}
