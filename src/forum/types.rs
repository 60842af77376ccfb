//! Forum values that refuse bad input at the door.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A topic title: 5–200 characters, no control characters.
pub struct Title(String);

impl Title {
    /// The longest title, in characters.
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Title, String> {
        let t = raw.trim();
        let len = t.chars().count();
        if !(5..=Self::MAX_CHARS).contains(&len) {
            return Err("a title has 5 to 200 characters".into());
        }
        if t.chars().any(char::is_control) {
            return Err("a title may not contain control characters".into());
        }
        Ok(Title(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A post body in markdown: 1–50,000 characters, not only white space.
pub struct PostBody(String);

impl PostBody {
    pub const MAX_CHARS: usize = 50_000;

    pub fn parse(raw: &str) -> Result<PostBody, String> {
        if raw.trim().is_empty() {
            return Err("write something first".into());
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(format!("a post has at most {} characters", Self::MAX_CHARS));
        }
        Ok(PostBody(raw.replace("\r\n", "\n").replace('\0', "")))
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A warning that collapses a post for members who filter that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentWarning {
    /// Weight numbers.
    Weight,
    /// Before/after photos.
    Photos,
    SelfHarm,
    /// Food and calories.
    Food,
    Other,
}

impl ContentWarning {
    pub const ALL: [ContentWarning; 5] = [
        ContentWarning::Weight,
        ContentWarning::Photos,
        ContentWarning::SelfHarm,
        ContentWarning::Food,
        ContentWarning::Other,
    ];

    pub fn parse(raw: &str) -> Result<ContentWarning, String> {
        Self::ALL
            .into_iter()
            .find(|w| w.as_str() == raw)
            .ok_or_else(|| "a content warning is weight, photos, self_harm, food or other".into())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContentWarning::Weight => "weight",
            ContentWarning::Photos => "photos",
            ContentWarning::SelfHarm => "self_harm",
            ContentWarning::Food => "food",
            ContentWarning::Other => "other",
        }
    }
}

/// Reactions suited to peer support; one of each kind per member per post.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReactionKind {
    Heart,
    Hug,
    Celebrate,
    MeToo,
    Helpful,
}

impl ReactionKind {
    pub fn parse(raw: &str) -> Result<ReactionKind, String> {
        match raw {
            "heart" => Ok(ReactionKind::Heart),
            "hug" => Ok(ReactionKind::Hug),
            "celebrate" => Ok(ReactionKind::Celebrate),
            "me_too" => Ok(ReactionKind::MeToo),
            "helpful" => Ok(ReactionKind::Helpful),
            _ => Err("a reaction is heart, hug, celebrate, me_too or helpful".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReactionKind::Heart => "heart",
            ReactionKind::Hug => "hug",
            ReactionKind::Celebrate => "celebrate",
            ReactionKind::MeToo => "me_too",
            ReactionKind::Helpful => "helpful",
        }
    }
}

/// What a topic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TopicKind {
    Discussion,
    Milestone,
    /// Started by organisers for a theme ("Non-scale victory Friday").
    Themed,
}

impl TopicKind {
    pub fn parse(raw: &str) -> Result<TopicKind, String> {
        match raw {
            "discussion" => Ok(TopicKind::Discussion),
            "milestone" => Ok(TopicKind::Milestone),
            "themed" => Ok(TopicKind::Themed),
            _ => Err("a topic kind is discussion, milestone or themed".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TopicKind::Discussion => "discussion",
            TopicKind::Milestone => "milestone",
            TopicKind::Themed => "themed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert!(Title::parse("Hi").is_err());
        assert!(Title::parse("Hello there").is_ok());
        assert!(Title::parse(&"x".repeat(201)).is_err());
        assert!(PostBody::parse("   \n ").is_err());
        assert!(PostBody::parse(&"é".repeat(50_000)).is_ok());
        assert!(PostBody::parse(&"é".repeat(50_001)).is_err());
    }
}
