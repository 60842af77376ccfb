//! Mutual: a peer-support community server. `main.rs` is the command line; everything else is
//! here, one module per capability (see DESIGN.md).

pub mod accounts;
pub mod app;
pub mod calendar;
pub mod chat;
pub mod circles;
pub mod clock;
pub mod communities;
pub mod config;
pub mod directory;
pub mod error;
pub mod forum;
pub mod goals;
pub mod http;
pub mod i18n;
pub mod invitations;
pub mod listener;
pub mod mail;
pub mod markdown;
pub mod meetings;
pub mod milestones;
pub mod moderation;
pub mod notify;
pub mod paging;
pub mod proxies;
pub mod publish;
pub mod ratelimit;
pub mod readings;
pub mod realtime;
pub mod referrals;
pub mod search;
pub mod seed;
pub mod service;
pub mod store;
pub mod text;
pub mod web;
