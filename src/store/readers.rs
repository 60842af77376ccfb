//! SQLite's read-only connections, pooled here rather than in sqlx's `Pool`.
//!
//! sqlx tests every connection its pool takes back with a ping, from a task it spawns for the
//! purpose; on SQLite a ping is a round trip to the connection's own thread. Every request that
//! reads paid it once more after its queries: about a sixth of the CPU of a topic view served
//! from memory (BENCHMARKS.md, "Readers without a ping"). A local file cannot drop a connection
//! the way a server can, so nothing here is tested: a connection goes back as it is. A query
//! cut short (a request dropped mid-way) leaves nothing behind, as SQLite's worker thread
//! finishes or resets each statement before it takes the next command.

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{Mutex, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

/// `size` read-only connections, each in its own slot.
pub struct Readers {
    slots: Vec<Arc<Mutex<SqliteConnection>>>,
    /// One permit per slot: a holder always finds a free slot.
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
}

/// A connection taken from [`Readers`]; it goes back when dropped.
pub struct Reader {
    // Dropped in this order: the slot is free before its permit is.
    conn: OwnedMutexGuard<SqliteConnection>,
    _permit: OwnedSemaphorePermit,
}

impl Readers {
    /// Opens the `size` connections (a bad file is reported at start).
    pub async fn open(
        options: &SqliteConnectOptions,
        size: u32,
        acquire_timeout: Duration,
    ) -> Result<Readers, sqlx::Error> {
        let size = size.max(1) as usize;
        let mut slots = Vec::with_capacity(size);
        for _ in 0..size {
            slots.push(Arc::new(Mutex::new(options.connect().await?)));
        }
        Ok(Readers {
            slots,
            permits: Arc::new(Semaphore::new(size)),
            acquire_timeout,
        })
    }

    /// A connection, waiting at most the acquire timeout for one to be free
    /// (`PoolTimedOut`, which the server answers with 503).
    pub async fn acquire(&self) -> Result<Reader, sqlx::Error> {
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
                .map_err(|_| sqlx::Error::PoolClosed)?;
        // Fewer holders than slots: one is free.
        let conn = self
            .slots
            .iter()
            .find_map(|slot| slot.clone().try_lock_owned().ok())
            .ok_or(sqlx::Error::PoolTimedOut)?;
        Ok(Reader {
            conn,
            _permit: permit,
        })
    }

    /// (in use, idle, max), for `/metrics`.
    pub fn stats(&self) -> (u32, u32, u32) {
        let size = self.slots.len() as u32;
        let idle = self.permits.available_permits() as u32;
        (size - idle, idle, size)
    }

    /// Refuses new acquisitions and waits for those in use to come back.
    pub async fn close(&self) {
        self.permits.close();
        for slot in &self.slots {
            drop(slot.lock().await);
        }
    }
}

impl Reader {
    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}
