//! Every test of the server through its real interfaces, in one binary: each file is one
//! capability's tests (`cargo nextest run --test server -E 'test(/^forum::/)'` runs one).
//! One binary instead of one per file: each file's binary compiled the shared harness again and
//! linked the whole server and its dependencies again (49 files, about 460 MB each).
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[macro_use]
mod common;

mod abuse;
mod accounts;
mod authorization;
mod backup;
mod blocks;
mod calendar;
mod chat;
mod chat_feel;
mod chat_nodes;
mod circles;
mod consent;
mod conversations;
mod crisis_web;
mod dependencies;
mod deploy;
mod directory;
mod door;
mod drafts;
mod email_delivery;
mod forum;
mod goals;
mod locales_complete;
mod media;
mod media_s3;
mod meetings;
mod membership_privacy;
mod milestones;
mod mod_web;
mod moderation;
mod page_cache;
mod password_reset;
mod phone;
mod post_edit_web;
mod privacy;
mod push;
mod pwa_time;
mod readings;
mod referrals;
mod reliability;
mod revocation;
mod screening;
mod search;
mod seed;
mod service;
mod session_cache;
mod topic_heads;
mod web;
mod web_member;
mod web_organiser;
