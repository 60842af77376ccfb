//! Mutual: a peer-support community server. `main.rs` is the command line; everything else is
//! here, one module per capability (see DESIGN.md).

pub mod accounts;
pub mod app;
pub mod config;
pub mod error;
pub mod http;
pub mod ratelimit;
pub mod service;
pub mod store;
