//! The `mutual` command: serve (the default), migrate, and admin tasks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mutual::accounts::cli::{CreateUser, create_user, import_users};
use mutual::config::{Config, LogFormat, SettingsArgs};
use mutual::store::{Store, StoreOptions, backup, migrate};

/// Mutual: peer-support communities (forum, live chat rooms, moderation, organiser tools).
///
/// With no command it serves: it creates ./data/mutual.db (SQLite) if needed, applies pending
/// migrations and prints `listening on http://ADDR`. Every setting can also be given as an
/// environment variable (shown in brackets) or in mutual.toml.
#[derive(Parser)]
#[command(name = "mutual", version, about, long_about)]
struct Cli {
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default); runs pending migrations first.
    Serve,
    /// Apply pending migrations and exit; safe while other nodes start.
    Migrate,
    /// Write a consistent copy of the SQLite database to FILE while the site keeps serving
    /// (PostgreSQL: use pg_dump, see the README).
    Backup { file: PathBuf },
    /// Put the backup FILE in place of the SQLite database; every server on it must be stopped.
    Restore { file: PathBuf },
    /// Administration from the shell.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand)]
enum Admin {
    /// Make an account, e.g. the first admin.
    CreateUser {
        #[arg(long)]
        username: String,
        /// At least 10 characters, not a common password.
        #[arg(long, env = "MUTUAL_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        /// A site-wide role to grant (repeatable): moderator, organiser, professional, admin.
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Bulk-create members from a CSV file with the header `username,display_name,email,password`.
    /// Bad rows are reported by line and skipped; good rows are kept. Rows with no password get a
    /// generated one, written to FILE.credentials.csv.
    ImportUsers { file: PathBuf },
    /// Build a realistic dataset for benchmarks (members, communities, topics, a big topic,
    /// chat history, the search index, sessions for a load generator). Prints the ids a load
    /// generator needs, then the same as one JSON line.
    Seed(SeedArgs),
}

#[derive(clap::Args)]
struct SeedArgs {
    #[arg(long, default_value_t = 100_000)]
    members: u64,
    #[arg(long, default_value_t = 20)]
    communities: u64,
    /// Posts in all, the big topic's included.
    #[arg(long, default_value_t = 1_000_000)]
    posts: u64,
    /// Replies in the big topic.
    #[arg(long, default_value_t = 10_000)]
    big_topic_replies: u64,
    #[arg(long, default_value_t = 100_000)]
    chat_messages: u64,
    /// Sessions to make for the first members (all members of the first community).
    #[arg(long, default_value_t = 10_000)]
    tokens: u64,
    /// Where to write those sessions' bearer tokens, one per line.
    #[arg(long)]
    tokens_file: Option<PathBuf>,
    /// The first community's address; usernames are this prefix (letters and digits) + a number.
    #[arg(long, default_value = "seed")]
    prefix: String,
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn open_store(config: &Config, serving: bool) -> anyhow::Result<Store> {
    let options = StoreOptions {
        url: config.database_url.clone(),
        pool_size: config.db_pool,
        acquire_timeout: std::time::Duration::from_secs(3),
    };
    let store = Store::open(&options).await?;
    if serving {
        // Before the first write (the migrations): see `store::watch`.
        store.claim_watch()?;
    }
    migrate(&store).await?;
    Ok(store)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.settings)?;
    init_tracing(config.log_format);
    let command = cli.command.unwrap_or(Command::Serve);
    // A restore replaces the database file, so it must not be opened first.
    if let Command::Restore { file } = &command {
        let restored = backup::restore(&config.database_url, file).await?;
        let store = open_store(&config, false).await?;
        store.close().await;
        println!(
            "restored {} members, {} posts and {} chat messages from {} into {}",
            restored.members,
            restored.posts,
            restored.chat_messages,
            file.display(),
            restored.file
        );
        return Ok(());
    }
    let store = open_store(&config, matches!(command, Command::Serve)).await?;
    match command {
        Command::Serve => {
            let _lock = store.serve_lock()?;
            let state = mutual::app::state(config, store)?;
            mutual::app::serve(state).await
        }
        Command::Backup { file } => {
            let copy = backup::backup(&store, &file).await?;
            println!(
                "backed up {} members, {} posts and {} chat messages to {} ({} bytes, checked)",
                copy.members, copy.posts, copy.chat_messages, copy.file, copy.bytes
            );
            Ok(())
        }
        Command::Restore { .. } => Ok(()),
        Command::Migrate => {
            println!("migrations applied ({:?})", store.backend());
            Ok(())
        }
        Command::Admin(Admin::CreateUser {
            username,
            password,
            roles,
            display_name,
            email,
        }) => {
            create_user(
                &store,
                CreateUser {
                    username,
                    password,
                    roles,
                    display_name,
                    email,
                },
            )
            .await
        }
        Command::Admin(Admin::ImportUsers { file }) => import_users(&store, &file).await,
        Command::Admin(Admin::Seed(args)) => {
            let options = mutual::seed::SeedOptions {
                members: args.members,
                communities: args.communities,
                posts: args.posts,
                big_topic_replies: args.big_topic_replies,
                chat_messages: args.chat_messages,
                tokens: args.tokens,
                tokens_file: args.tokens_file,
                prefix: args.prefix,
                ..Default::default()
            };
            let report = mutual::seed::seed(&store, &options).await?;
            println!(
                "seeded {} members, {} posts ({:.0} posts/s), {} chat messages in {:.1} s",
                report.members,
                report.posts,
                report.posts_per_second,
                report.chat_messages,
                report.seconds
            );
            println!(
                "community {} (public), big topic {}, small topic {}, room {}, {} tokens{}",
                report.community,
                report.big_topic,
                report.small_topic,
                report.room,
                report.tokens,
                report
                    .tokens_file
                    .as_deref()
                    .map(|f| format!(" in {f}"))
                    .unwrap_or_default()
            );
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
