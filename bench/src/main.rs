//! `loadgen`: Mutual's load generator. Speaks only the public API (API.md) over HTTP and the
//! WebSocket, runs one scenario per invocation, prints plain text and then exactly one JSON line
//! `{"scenario": ..., figures...}`. Exits non-zero on errors or lost messages, never on timing.

mod chat;
mod common;
mod forum;
mod idle;
mod mixed;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use common::Target;

/// Load scenarios against a running `mutual` (start it with MUTUAL_RATE_LIMITS=off, and seed it
/// with `mutual admin seed --tokens-file FILE`).
#[derive(Parser)]
#[command(name = "loadgen", version, about)]
struct Cli {
    /// A node's base URL; repeat for several nodes (clients are spread round-robin).
    #[arg(long = "url", default_value = "http://127.0.0.1:8080", global = true)]
    urls: Vec<String>,
    /// Bearer tokens, one per line (from `mutual admin seed --tokens-file`).
    #[arg(long, global = true)]
    tokens_file: Option<PathBuf>,
    /// The seeded community's address.
    #[arg(long, default_value = "seed", global = true)]
    community: String,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// N sockets in one room, M messages at R/s: delivery latency and losses.
    ChatFanout {
        /// The room (default: the community's default room).
        #[arg(long)]
        room: Option<i64>,
        #[arg(long, default_value_t = 1000)]
        sockets: usize,
        #[arg(long, default_value_t = 600)]
        messages: usize,
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        /// How many of the sockets send (round-robin).
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Check afterwards that the room's history holds every message.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        verify_stored: bool,
    },
    /// The most messages/s stored into a room with N listeners.
    ChatThroughput {
        #[arg(long)]
        room: Option<i64>,
        #[arg(long, default_value_t = 1000)]
        listeners: usize,
        #[arg(long, default_value_t = 8)]
        senders: usize,
        /// Messages each sender keeps in flight.
        #[arg(long, default_value_t = 16)]
        window: usize,
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
    },
    /// GETs of a big topic's first and deep pages at C connections for D seconds.
    ForumRead {
        #[arg(long)]
        topic: i64,
        /// first, deep or both.
        #[arg(long, default_value = "first")]
        page: String,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Read as signed-in members (tokens) rather than anonymously.
        #[arg(long)]
        auth: bool,
        /// The HTML page `/t/{id}` rather than the JSON API.
        #[arg(long)]
        html: bool,
    },
    /// Replies with markdown and a mention, C writers for D seconds.
    ForumWrite {
        /// Reply in this topic only (default: spread over the community's newest topics).
        #[arg(long)]
        topic: Option<i64>,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Mentioned usernames are this prefix + a number.
        #[arg(long, default_value = "seed")]
        user_prefix: String,
    },
    /// A community's day: every member online, most reading, some chatting, a few posting.
    MixedDay {
        #[arg(long)]
        room: Option<i64>,
        #[arg(long)]
        big_topic: i64,
        #[arg(long, default_value_t = 1000)]
        members: usize,
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
        /// Mean seconds between two actions of one member.
        #[arg(long, default_value_t = 2.0)]
        think: f64,
    },
    /// Server memory per idle authenticated socket (reads /proc/PID/status).
    IdleSockets {
        /// The server's process id.
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 1000)]
        sockets: usize,
        #[arg(long)]
        room: Option<i64>,
    },
}

async fn room_or_default(target: &Target, room: Option<i64>, slug: &str) -> anyhow::Result<i64> {
    match room {
        Some(r) => Ok(r),
        None => target.default_room(slug, target.token(0)?).await,
    }
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let pool = 1024;
    let target = Target::new(cli.urls, cli.tokens_file.as_deref(), pool)?;
    let slug = cli.community;
    match cli.scenario {
        Scenario::ChatFanout {
            room,
            sockets,
            messages,
            rate,
            senders,
            verify_stored,
        } => {
            let room = room_or_default(&target, room, &slug).await?;
            let token = target.token(0)?.to_owned();
            chat::fanout(
                &target,
                chat::FanoutArgs {
                    room,
                    sockets,
                    messages,
                    rate,
                    senders,
                    verify_stored,
                    token_for_history: Some(token),
                },
            )
            .await
        }
        Scenario::ChatThroughput {
            room,
            listeners,
            senders,
            window,
            seconds,
        } => {
            let room = room_or_default(&target, room, &slug).await?;
            chat::throughput(
                &target,
                chat::ThroughputArgs {
                    room,
                    listeners,
                    senders,
                    window,
                    seconds,
                },
            )
            .await
        }
        Scenario::ForumRead {
            topic,
            page,
            connections,
            seconds,
            auth,
            html,
        } => {
            forum::read(
                &target,
                forum::ReadArgs {
                    topic,
                    page,
                    connections,
                    seconds,
                    auth,
                    html,
                },
            )
            .await
        }
        Scenario::ForumWrite {
            topic,
            connections,
            seconds,
            user_prefix,
        } => {
            forum::write(
                &target,
                forum::WriteArgs {
                    community: slug,
                    topic,
                    connections,
                    seconds,
                    user_prefix,
                },
            )
            .await
        }
        Scenario::MixedDay {
            room,
            big_topic,
            members,
            seconds,
            think,
        } => {
            let room = room_or_default(&target, room, &slug).await?;
            mixed::mixed(
                &target,
                mixed::MixedArgs {
                    community: slug,
                    room,
                    big_topic,
                    members,
                    seconds,
                    think,
                },
            )
            .await
        }
        Scenario::IdleSockets { pid, sockets, room } => {
            let room = room_or_default(&target, room, &slug).await?;
            idle::idle(&target, pid, sockets, room).await
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("FAILED: errors or lost messages (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
