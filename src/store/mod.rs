//! The database: a pool for SQLite (the default) or PostgreSQL, migrations, and the `db!` macro
//! that runs one query text on whichever backend is configured.
//!
//! SQLite allows one writer at a time, so on SQLite writes go through a pool of exactly one
//! connection (no "database is locked" fights between our own connections) while reads use a
//! wider pool. On PostgreSQL both are the same pool. Times are stored as milliseconds since the
//! Unix epoch (`BIGINT`) so that one query text compares and orders them on both backends.

pub mod backup;
mod migrate;
pub mod readers;
pub mod watch;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};

pub use migrate::migrate;
pub use watch::{Change, Table, Ticket, Watch, Watcher};

/// Which database the store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pools: Arc<Pools>,
    watch: Arc<Watch>,
}

enum Pools {
    Sqlite {
        /// Opened read-only: every change goes through `write`, where `watch` sees it.
        read: readers::Readers,
        write: SqlitePool,
        /// One connection that copies the WAL into the database (readers cannot).
        checkpoint: SqlitePool,
        file: PathBuf,
    },
    Postgres(PgPool),
}

/// A pooled connection; `db!` runs queries on it.
pub enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    SqliteReader(readers::Reader),
    Postgres(PoolConnection<Postgres>),
}

/// A transaction on the writer; dropped without `commit` it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A borrowed connection of either backend: what the `db!` macro matches on.
pub enum Db<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// Anything a query can run on: a connection or a transaction.
pub trait AsDb {
    fn db(&mut self) -> Db<'_>;
}

impl AsDb for Conn {
    fn db(&mut self) -> Db<'_> {
        match self {
            Conn::Sqlite(c) => Db::Sqlite(c),
            Conn::SqliteReader(r) => Db::Sqlite(r.conn()),
            Conn::Postgres(c) => Db::Postgres(c),
        }
    }
}

impl AsDb for Tx {
    fn db(&mut self) -> Db<'_> {
        match self {
            Tx::Sqlite(t) => Db::Sqlite(t),
            Tx::Postgres(t) => Db::Postgres(t),
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}

/// Runs one SQL text on either backend.
///
/// `db!(conn, execute, SQL, args..)` → rows affected;
/// `db!(conn, fetch_one | fetch_optional | fetch_all as Row, SQL, args..)` → rows as `Row`
/// (a `#[derive(sqlx::FromRow)]` type or a tuple);
/// `db!(conn, fetch_one | fetch_optional | fetch_all scalar T, SQL, args..)` → single values.
/// Placeholders are `$1, $2, ...` on both databases.
#[macro_export]
macro_rules! db {
    ($conn:expr, execute, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $crate::store::AsDb::db(&mut $conn) {
            $crate::store::Db::Sqlite(c) => sqlx::query($sql)$(.bind($arg))*.execute(c).await.map(|r| r.rows_affected()),
            $crate::store::Db::Postgres(c) => sqlx::query($sql)$(.bind($arg))*.execute(c).await.map(|r| r.rows_affected()),
        }
    };
    ($conn:expr, $method:ident as $row:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $crate::store::AsDb::db(&mut $conn) {
            $crate::store::Db::Sqlite(c) => sqlx::query_as::<_, $row>($sql)$(.bind($arg))*.$method(c).await,
            $crate::store::Db::Postgres(c) => sqlx::query_as::<_, $row>($sql)$(.bind($arg))*.$method(c).await,
        }
    };
    ($conn:expr, $method:ident scalar $row:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $crate::store::AsDb::db(&mut $conn) {
            $crate::store::Db::Sqlite(c) => sqlx::query_scalar::<_, $row>($sql)$(.bind($arg))*.$method(c).await,
            $crate::store::Db::Postgres(c) => sqlx::query_scalar::<_, $row>($sql)$(.bind($arg))*.$method(c).await,
        }
    };
}

/// How often the WAL is copied into the SQLite database (see `Store::start_checkpoints`).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// A PostgreSQL connection idle this long is pinged before it is handed out.
const PG_PING_AFTER_IDLE: Duration = Duration::from_secs(30);

/// How to open the store.
pub struct StoreOptions {
    /// `sqlite://...` or `postgres://...`.
    pub url: String,
    /// Readers on SQLite, all connections on PostgreSQL.
    pub pool_size: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout: Duration,
}

/// Whether the bundled SQLite has the build flags of `.cargo/config.toml` (`build.rs` refuses a
/// build without them; this is the check on the library actually linked).
pub async fn sqlite_built_as_expected(pool: &SqlitePool) -> bool {
    let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
        .fetch_all(pool)
        .await
        .unwrap_or_default();
    !options.iter().any(|o| o == "ENABLE_STAT4")
        && options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0")
}

impl Store {
    /// Opens the pools (creating the SQLite file and its folder if missing). Does not migrate.
    pub async fn open(options: &StoreOptions) -> anyhow::Result<Store> {
        let url = options.url.as_str();
        let watch = Arc::new(Watch::new());
        let pools = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).context("parsing DATABASE_URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(options.pool_size)
                .min_connections(1)
                .acquire_timeout(options.acquire_timeout)
                // A ping before every acquire doubles each request's round trips; a connection
                // that sat idle a while (the server may have restarted) is still checked first.
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > PG_PING_AFTER_IDLE {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(connect)
                .await
                .context("connecting to PostgreSQL")?;
            Pools::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url)
                .context("parsing the SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL in WAL mode loses nothing on a process crash; only an OS crash or power
                // cut can roll back the last transactions.
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("temp_store", "memory")
                .pragma("cache_size", "-16000")
                // Deleted rows are overwritten with zeros, not left in free space: an erased
                // member's name and words must not stay readable in the file.
                .pragma("secure_delete", "on");
            let file = base.get_filename().to_path_buf();
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the data folder {}", dir.display()))?;
            }
            // A local file cannot drop a connection the way a server can, and sqlx's ping before
            // each acquire is a round trip to the connection's thread: a third of a cached
            // topic page's work. (Its ping on each release cannot be turned off: the readers,
            // taken on every request, are pooled in `readers` for that.) The writer copies the WAL into the database itself (an
            // automatic checkpoint, at the end of a commit) only as a backstop, at 10,000 pages
            // (40 MB): `start_checkpoints` does it on a connection of its own, so commits do not
            // stall.
            let (hooked, settled) = (watch.clone(), watch.clone());
            let write = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(1)
                .acquire_timeout(options.acquire_timeout)
                .after_connect(move |conn, _| {
                    let watch = hooked.clone();
                    Box::pin(async move {
                        watch_writer(conn, watch).await?;
                        Ok(())
                    })
                })
                // Back in the pool, whatever the writer committed is visible to readers.
                .after_release(move |_, _| {
                    settled.settled();
                    Box::pin(async { Ok(true) })
                })
                .connect_with(base.clone().pragma("wal_autocheckpoint", "10000"))
                .await
                .with_context(|| format!("opening {}", file.display()))?;
            let read = readers::Readers::open(
                &base.clone().create_if_missing(false).read_only(true),
                options.pool_size,
                options.acquire_timeout,
            )
            .await
            .with_context(|| format!("opening {}", file.display()))?;
            if !sqlite_built_as_expected(&write).await {
                tracing::warn!(
                    "SQLite was built without LIBSQLITE3_FLAGS from .cargo/config.toml (STAT4 or \
                     memory statistics on): pages will be slower (see CONTRIBUTING.md)"
                );
            }
            let checkpoint = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_lazy_with(base);
            Pools::Sqlite {
                read,
                write,
                checkpoint,
                file,
            }
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:// (got {url:?})");
        };
        Ok(Store {
            pools: Arc::new(pools),
            watch,
        })
    }

    /// The writer's changes, for caches of rows (see `watch`).
    pub fn watch(&self) -> &Watch {
        &self.watch
    }

    /// Called by a server before its first write: on SQLite, the first server on the file may
    /// keep rows in memory (it takes the watch lock); a later one tells it to stop by adding a
    /// byte to the lock file, and keeps nothing itself. (The serve lock of `backup` is another
    /// matter: every server shares it, so that `restore` can tell whether any still runs.)
    pub fn claim_watch(&self) -> anyhow::Result<()> {
        let Pools::Sqlite { file, .. } = &*self.pools else {
            return Ok(());
        };
        let path = file.with_extension("watch-lock");
        let mut lock = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match lock.try_lock() {
            Ok(()) => {
                let len = lock.metadata()?.len();
                self.watch.claimed(lock, len);
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                std::io::Write::write_all(&mut lock, b"+")
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match &*self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite file, when on SQLite.
    pub fn sqlite_file(&self) -> Option<&Path> {
        match &*self.pools {
            Pools::Sqlite { file, .. } => Some(file),
            Pools::Postgres(_) => None,
        }
    }

    /// A connection for reading.
    pub async fn read(&self) -> Result<Conn, sqlx::Error> {
        Ok(match &*self.pools {
            Pools::Sqlite { read, .. } => Conn::SqliteReader(read.acquire().await?),
            Pools::Postgres(p) => Conn::Postgres(p.acquire().await?),
        })
    }

    /// A connection for a single write statement (the one SQLite writer).
    pub async fn write(&self) -> Result<Conn, sqlx::Error> {
        Ok(match &*self.pools {
            Pools::Sqlite { write, .. } => Conn::Sqlite(write.acquire().await?),
            Pools::Postgres(p) => Conn::Postgres(p.acquire().await?),
        })
    }

    /// A write transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match &*self.pools {
            Pools::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Pools::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// On SQLite, copies the WAL into the database four times a second on a connection of its own
    /// (`PRAGMA wal_checkpoint(PASSIVE)`: it waits for no one and no one waits for it), so the
    /// single writer's commits never stop to do it. The server calls this once at start.
    pub fn start_checkpoints(&self) {
        let Pools::Sqlite { checkpoint, .. } = &*self.pools else {
            return;
        };
        let pool = checkpoint.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if pool.is_closed() {
                    return;
                }
                let started = std::time::Instant::now();
                match sqlx::raw_sql("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    Ok(_) => metrics::histogram!("mutual_sqlite_checkpoint_seconds")
                        .record(started.elapsed().as_secs_f64()),
                    Err(e) => tracing::warn!(error = %e, "SQLite checkpoint"),
                }
            }
        });
    }

    /// Answers whether the database responds, for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.read().await?;
        db!(conn, fetch_one scalar i32, "SELECT 1")?;
        Ok(())
    }

    /// Pool use, for `/metrics`: (in use, idle, max) per pool name.
    pub fn pool_stats(&self) -> Vec<(&'static str, u32, u32, u32)> {
        match &*self.pools {
            Pools::Sqlite { read, write, .. } => vec![
                {
                    let (in_use, idle, max) = read.stats();
                    ("read", in_use, idle, max)
                },
                (
                    "write",
                    write.size() - write.num_idle() as u32,
                    write.num_idle() as u32,
                    1,
                ),
            ],
            Pools::Postgres(p) => vec![(
                "main",
                p.size() - p.num_idle() as u32,
                p.num_idle() as u32,
                p.options().get_max_connections(),
            )],
        }
    }

    /// After an erasure, so the erased bytes leave the database files too. SQLite already zeroed
    /// them in place (`secure_delete`); the WAL still holds page images from before, so its
    /// frames go into the main file and it is emptied. PostgreSQL keeps deleted and updated
    /// rows as dead tuples until `VACUUM` reclaims their space for reuse: run it on `tables` in
    /// the background (plain VACUUM takes no lock that stops the site; FULL would).
    pub async fn scrub_after_erasure(&self, tables: &'static str) -> Result<(), sqlx::Error> {
        match &*self.pools {
            Pools::Sqlite { write, .. } => {
                sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(write)
                    .await?;
            }
            Pools::Postgres(pool) => {
                let pool = pool.clone();
                tokio::spawn(async move {
                    // VACUUM cannot run in a transaction: the simple protocol sends it alone.
                    let sql = format!("VACUUM {tables}");
                    if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await {
                        tracing::warn!(error = %e, "VACUUM after an erasure");
                    }
                });
            }
        }
        Ok(())
    }

    /// Closes every pool, letting queries in flight finish.
    pub async fn close(&self) {
        match &*self.pools {
            Pools::Sqlite {
                read,
                write,
                checkpoint,
                ..
            } => {
                read.close().await;
                write.close().await;
                checkpoint.close().await;
            }
            Pools::Postgres(p) => p.close().await,
        }
    }
}

/// Tells `watch` of every row the writer changes, and of its commits and rollbacks.
async fn watch_writer(conn: &mut SqliteConnection, watch: Arc<Watch>) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let (changed, committing, rolled_back) = (watch.clone(), watch.clone(), watch);
    handle.set_update_hook(move |row| {
        let inserted = matches!(row.operation, sqlx::sqlite::SqliteOperation::Insert);
        changed.row_changed(row.table, row.rowid, inserted);
    });
    handle.set_commit_hook(move || {
        committing.committing();
        true
    });
    handle.set_rollback_hook(move || rolled_back.rolled_back());
    Ok(())
}

/// Milliseconds since the Unix epoch, the form every time is stored in.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339 in UTC with milliseconds, the form every time is shown in (API.md "Conventions").
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
