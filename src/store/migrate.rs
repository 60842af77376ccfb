//! Schema migrations: `migrations/sqlite/` and `migrations/postgres/`, embedded in the binary and
//! applied on start and by `mutual migrate`.
//!
//! Two nodes starting at once must not both apply a migration. sqlx takes a PostgreSQL advisory
//! lock for that; on SQLite it takes none, so we hold an exclusive lock on a file beside the
//! database while migrating.

use anyhow::Context;

use super::{Pools, Store};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Applies every pending migration; safe to call from several processes at once.
pub async fn migrate(store: &Store) -> anyhow::Result<()> {
    match &*store.pools {
        Pools::Sqlite { write, file, .. } => {
            let lock_path = file.with_extension("migrate-lock");
            let lock = tokio::task::spawn_blocking(move || -> anyhow::Result<std::fs::File> {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .with_context(|| format!("opening {}", lock_path.display()))?;
                f.lock().context("locking the migration lock file")?;
                Ok(f)
            })
            .await??;
            let result = SQLITE
                .run(write)
                .await
                .context("migrating the SQLite database");
            drop(lock);
            result
        }
        Pools::Postgres(pool) => POSTGRES
            .run(pool)
            .await
            .context("migrating the PostgreSQL database"),
    }
}
