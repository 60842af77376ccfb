//! Community values that refuse bad input at the door.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A community's address: 3–50 of a–z, 0–9 and `-`, not starting or ending with `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Slug, String> {
        let s = raw.trim();
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !(3..=50).contains(&s.len()) || !ok_chars || s.starts_with('-') || s.ends_with('-') {
            return Err("an address has 3 to 50 of a–z, 0–9 and `-` (not at the ends)".into());
        }
        Ok(Slug(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who can read a community: `public` (anyone), `members` (anyone sees titles, members read
/// posts) or `private` (invisible to non-members).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Members,
    Private,
}

impl Visibility {
    pub fn parse(raw: &str) -> Result<Visibility, String> {
        match raw {
            "public" => Ok(Visibility::Public),
            "members" => Ok(Visibility::Members),
            "private" => Ok(Visibility::Private),
            _ => Err("visibility is public, members or private".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Members => "members",
            Visibility::Private => "private",
        }
    }
}

/// Who sees the member list: the members, or only moderators (`hidden`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberListMode {
    Members,
    Hidden,
}

impl MemberListMode {
    pub fn parse(raw: &str) -> Result<MemberListMode, String> {
        match raw {
            "members" => Ok(MemberListMode::Members),
            "hidden" => Ok(MemberListMode::Hidden),
            _ => Err("member_list is members or hidden".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MemberListMode::Members => "members",
            MemberListMode::Hidden => "hidden",
        }
    }
}

/// Roles inside one community.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommunityRole {
    Moderator,
    Organiser,
    /// Greets newcomers: told when a newcomer's first topic goes unanswered.
    Welcomer,
}

impl CommunityRole {
    pub fn parse(raw: &str) -> Result<CommunityRole, String> {
        match raw {
            "moderator" => Ok(CommunityRole::Moderator),
            "organiser" | "organizer" => Ok(CommunityRole::Organiser),
            "welcomer" => Ok(CommunityRole::Welcomer),
            _ => Err("the community roles are moderator, organiser and welcomer".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CommunityRole::Moderator => "moderator",
            CommunityRole::Organiser => "organiser",
            CommunityRole::Welcomer => "welcomer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(Slug::parse("type-2-diabetes").is_ok());
        assert!(Slug::parse("ab").is_err());
        assert!(Slug::parse("-abc").is_err());
        assert!(Slug::parse("Diabetes").is_err());
        assert!(Slug::parse("azúcar").is_err());
    }
}
