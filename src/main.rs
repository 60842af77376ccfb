//! The `mutual` command: serve (the default), migrate, and admin tasks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mutual::accounts::cli::{CreateUser, create_user, import_users};
use mutual::config::{Config, LogFormat, SettingsArgs};
use mutual::store::{Store, StoreOptions, migrate};

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

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let options = StoreOptions {
        url: config.database_url.clone(),
        pool_size: config.db_pool,
        acquire_timeout: std::time::Duration::from_secs(3),
    };
    let store = Store::open(&options).await?;
    migrate(&store).await?;
    Ok(store)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.settings)?;
    init_tracing(config.log_format);
    let store = open_store(&config).await?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let state = mutual::app::state(config, store)?;
            mutual::app::serve(state).await
        }
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
