//! Milestones: the community's milestone types, milestone posts (a topic or a reply of kind
//! `milestone`) and who may see their values.

use serde::Deserialize;
use utoipa::ToSchema;

/// The `milestone` part of a new topic or reply (API.md "Milestones, goals, organiser tools").
#[derive(Deserialize, ToSchema, Clone, Debug, Default)]
pub struct NewMilestone {
    /// The key of one of the community's milestone types, e.g. `weight_lost`.
    #[serde(rename = "type")]
    pub kind: String,
    /// An optional number: 25 (lb), 6.8 (A1c %)...
    pub value: Option<f64>,
    pub unit: Option<String>,
    /// `community` (the default) or `private` (only me).
    pub visibility: Option<String>,
}
