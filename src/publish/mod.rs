//! One path for what members write: every write of member text (topic, reply, milestone, post
//! edit, topic retitle, chat message and chat edit) is screened by `screen` before it is stored,
//! and every forum write hands its side effects to `dispatch` — inside its transaction what must
//! commit with the text, after commit what is published. Forum and chat both call here, never
//! each other.

pub mod dispatch;
pub mod screen;

pub use dispatch::{Staged, Written};
pub use screen::{Verdict, check_identifiers, screen, screen_chat};
