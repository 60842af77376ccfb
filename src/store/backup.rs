//! `mutual backup FILE` and `mutual restore FILE` for the SQLite store.
//!
//! A backup is taken while the site serves: `VACUUM INTO` copies the database inside one read
//! transaction, so the copy is a consistent snapshot (every write committed before it, none
//! after, nothing half-written), and in WAL mode readers never block the writer, so members do
//! not notice. The copy is then checked (`PRAGMA integrity_check`) before it is called good.
//!
//! A restore replaces the database file while no server is using it: every `serve` holds a
//! shared lock on a file beside the database, and `restore` needs it exclusively. The copy goes
//! in under a temporary name and is renamed over the old file, so a restore cut short leaves
//! the old database as it was; the migrations then bring an older backup up to date.
//!
//! PostgreSQL has its own tools for this (`pg_dump`, point-in-time recovery): see the README.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use super::{Pools, Store};

/// What a backup or restore holds, for the operator to check at a glance.
#[derive(Serialize, Debug)]
pub struct Contents {
    pub file: String,
    pub bytes: u64,
    pub members: i64,
    pub posts: i64,
    pub chat_messages: i64,
}

/// The lock file every server on this SQLite database holds while it serves.
fn serve_lock_path(database: &Path) -> PathBuf {
    database.with_extension("serve-lock")
}

/// Held by `serve` (shared: several nodes may serve one file) so that `restore` can tell.
pub struct ServeLock(#[allow(dead_code)] Option<std::fs::File>);

impl Store {
    /// Takes the serve lock (a no-op on PostgreSQL).
    pub fn serve_lock(&self) -> anyhow::Result<ServeLock> {
        let Pools::Sqlite { file, .. } = &*self.pools else {
            return Ok(ServeLock(None));
        };
        let path = serve_lock_path(file);
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        f.lock_shared().context("taking the serve lock")?;
        Ok(ServeLock(Some(f)))
    }
}

/// Opens a SQLite file read-only and checks it whole; what it holds.
async fn check(file: &Path) -> anyhow::Result<Contents> {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .create_if_missing(false);
    let mut conn: SqliteConnection = options
        .connect()
        .await
        .with_context(|| format!("opening {}", file.display()))?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .context("checking the copy")?;
    if verdict != "ok" {
        bail!("{} is damaged: {verdict}", file.display());
    }
    let is_ours: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut conn)
    .await?;
    if is_ours.is_none() {
        bail!("{} is not a Mutual database", file.display());
    }
    let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");
    let mut counts = Vec::new();
    for table in ["users", "posts", "chat_messages"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count(table)))
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("counting {table}"))?;
        counts.push(n);
    }
    conn.close().await.ok();
    Ok(Contents {
        file: file.display().to_string(),
        bytes: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
        members: counts[0],
        posts: counts[1],
        chat_messages: counts[2],
    })
}

/// Writes a consistent copy of the live database to `to` (which must not exist yet).
pub async fn backup(store: &Store, to: &Path) -> anyhow::Result<Contents> {
    let Pools::Sqlite { read, .. } = &*store.pools else {
        bail!(
            "this server runs on PostgreSQL: back it up with PostgreSQL's own tools, e.g. \
             `pg_dump --format=custom --file=mutual.dump \"$DATABASE_URL\"` (restore with \
             `pg_restore --clean --dbname=\"$DATABASE_URL\" mutual.dump`); see the README"
        );
    };
    if to.exists() {
        bail!("{} already exists: choose a new file name", to.display());
    }
    let target = to
        .to_str()
        .context("the backup file's name must be valid UTF-8")?
        .to_owned();
    // A reader, not the writer: the site keeps writing while the copy is made.
    let mut conn = read.acquire().await.context("connecting to the database")?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(conn.conn())
        .await
        .with_context(|| format!("writing {}", to.display()))?;
    drop(conn);
    check(to).await
}

/// Puts the backup `from` in place of the database at `url`, while no server uses it.
pub async fn restore(url: &str, from: &Path) -> anyhow::Result<Contents> {
    if !url.starts_with("sqlite:") {
        bail!(
            "this server runs on PostgreSQL: restore with `pg_restore --clean --dbname=\"$DATABASE_URL\" FILE`; see the README"
        );
    }
    let database = SqliteConnectOptions::from_str(url)
        .context("parsing the SQLite URL")?
        .get_filename()
        .to_path_buf();
    let contents = check(from).await?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data folder {}", dir.display()))?;
    }
    let lock_path = serve_lock_path(&database);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        bail!(
            "a server is using {}: stop every `mutual serve` on it first",
            database.display()
        );
    }
    let staged = database.with_extension("restoring");
    std::fs::copy(from, &staged)
        .with_context(|| format!("copying {} to {}", from.display(), staged.display()))?;
    std::fs::File::open(&staged)
        .and_then(|f| f.sync_all())
        .context("flushing the copy to disk")?;
    // The old database's write-ahead log belongs to the old file; it must not be replayed
    // into the restored one.
    for suffix in ["-wal", "-shm"] {
        let mut side = database.clone().into_os_string();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            std::fs::remove_file(&side).with_context(|| format!("removing {}", side.display()))?;
        }
    }
    std::fs::rename(&staged, &database)
        .with_context(|| format!("putting the copy in place at {}", database.display()))?;
    drop(lock);
    Ok(Contents {
        file: database.display().to_string(),
        ..contents
    })
}
