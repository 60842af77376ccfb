//! What the SQLite writer changed, for the caches that keep rows in memory.
//!
//! On SQLite every write goes through the one writer connection (readers are opened read-only),
//! and SQLite tells that connection of every row it changes, the triggers' changes included
//! (`sqlite3_update_hook`). The changes of a transaction are handed to the watchers when it
//! commits, so a cache forgets a row before anyone can read the new one. A cache may keep what a
//! reader read only if no commit happened since the reader took its `Ticket` and every commit
//! before it was visible to readers (`keep`): a reader that raced a commit reads again next time
//! instead of keeping an old row.
//!
//! Another process writing the same SQLite file is not seen by this writer, so rows are kept only
//! by the one server that took the file's watch lock at start (`Store::claim_watch`), and only
//! until another server starts on the file: that one, finding the lock taken, adds a byte to the
//! lock file before its first write, and the first stops keeping anything when it sees the file
//! grow (one `fstat` per look). On PostgreSQL other nodes write too and nothing tells this node
//! in time: nothing is ever kept there.

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// The tables whose rows the caches keep (or that say who may see them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Topics,
    Communities,
    Users,
    Memberships,
    CommunityRoles,
    TopicReads,
}

impl Table {
    fn parse(name: &str) -> Option<Table> {
        Some(match name {
            "topics" => Table::Topics,
            "communities" => Table::Communities,
            "users" => Table::Users,
            "memberships" => Table::Memberships,
            "community_roles" => Table::CommunityRoles,
            "topic_reads" => Table::TopicReads,
            _ => return None,
        })
    }
}

/// One row changed (inserted, updated or deleted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub table: Table,
    pub rowid: i64,
    pub inserted: bool,
}

/// A cache told of committed changes. Called with the watch's lock held: it must only forget.
pub trait Watcher: Send + Sync {
    fn changed(&self, changes: &[Change]);
}

/// Taken before a read whose rows may be kept; see `Watch::keep`.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

#[derive(Default)]
struct Inner {
    /// Moves with every commit and every settling.
    epoch: u64,
    /// Commits handed to watchers whose rows readers may not see yet.
    unsettled: u64,
    /// Changes of the transaction in progress on the writer.
    pending: Vec<Change>,
    watchers: Vec<Arc<dyn Watcher>>,
}

pub struct Watch {
    /// On while this server is the only one on its SQLite file.
    on: AtomicBool,
    /// The watch lock this server holds, and its length when taken.
    sole: OnceLock<(File, u64)>,
    inner: Mutex<Inner>,
}

impl Watch {
    pub(super) fn new() -> Watch {
        Watch {
            on: AtomicBool::new(false),
            sole: OnceLock::new(),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// This server holds `lock` (a file of `len` bytes): it may keep rows until the file grows.
    pub(super) fn claimed(&self, lock: File, len: u64) {
        if self.sole.set((lock, len)).is_ok() {
            self.on.store(true, Ordering::Release);
        }
    }

    /// Whether kept rows may be used: this server is the only one that ever wrote the file
    /// since it started.
    pub fn alone(&self) -> bool {
        if !self.on.load(Ordering::Acquire) {
            return false;
        }
        let Some((lock, len)) = self.sole.get() else {
            return false;
        };
        match lock.metadata() {
            Ok(m) if m.len() == *len => true,
            found => {
                self.on.store(false, Ordering::Release);
                tracing::warn!(
                    error = found.err().map(|e| e.to_string()),
                    "another server started on this SQLite file: topic views are read from the \
                     database from now on (restart this one when it is alone again)"
                );
                false
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A watcher only removes entries: a panic in one leaves nothing half-done to guard.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn add(&self, watcher: Arc<dyn Watcher>) {
        self.lock().watchers.push(watcher);
    }

    /// The writer changed a row (SQLite's update hook, on the writer's thread).
    pub(super) fn row_changed(&self, table: &str, rowid: i64, inserted: bool) {
        if let Some(table) = Table::parse(table) {
            self.lock().pending.push(Change {
                table,
                rowid,
                inserted,
            });
        }
    }

    /// The writer's transaction rolled back: its changes never happened.
    pub(super) fn rolled_back(&self) {
        self.lock().pending.clear();
    }

    /// The writer is committing (SQLite's commit hook, before readers can see it): the
    /// watchers forget what changed, and nothing read from now until `settled` is kept.
    pub(super) fn committing(&self) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.unsettled += 1;
        if !inner.pending.is_empty() {
            let pending = std::mem::take(&mut inner.pending);
            for w in &inner.watchers {
                w.changed(&pending);
            }
            inner.pending = pending;
            inner.pending.clear();
        }
    }

    /// Every commit so far is visible to readers (the writer's commit call returned, or its
    /// connection went back to the pool).
    pub(super) fn settled(&self) {
        let mut inner = self.lock();
        if inner.unsettled > 0 {
            inner.unsettled = 0;
            inner.epoch += 1;
        }
    }

    /// Taken before reading rows a cache may keep; `None` when nothing may be kept.
    pub fn ticket(&self) -> Option<Ticket> {
        self.alone().then(|| Ticket(self.lock().epoch))
    }

    /// Runs `keep` (which stores what was read under `ticket`) only if no commit happened since
    /// and every earlier one is visible; under the lock, so no forgetting can slip in between.
    pub fn keep(&self, ticket: Ticket, keep: impl FnOnce()) {
        let inner = self.lock();
        if inner.epoch == ticket.0 && inner.unsettled == 0 {
            keep();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Seen(Mutex<Vec<Change>>);

    impl Watcher for Seen {
        fn changed(&self, changes: &[Change]) {
            self.0.lock().unwrap().extend_from_slice(changes);
        }
    }

    /// A watch that may keep rows, on a fresh lock file.
    fn claimed() -> (Watch, std::path::PathBuf) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "mutual-watch-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let lock = File::create(&path).unwrap();
        let watch = Watch::new();
        watch.claimed(lock, 0);
        (watch, path)
    }

    #[test]
    fn a_read_that_raced_a_commit_is_not_kept() {
        let (watch, _dir) = claimed();
        let seen = Arc::new(Seen(Mutex::new(Vec::new())));
        watch.add(seen.clone());
        let before = watch.ticket().unwrap();
        watch.row_changed("topics", 7, false);
        watch.row_changed("posts", 9, true);
        watch.committing();
        assert_eq!(
            *seen.0.lock().unwrap(),
            vec![Change {
                table: Table::Topics,
                rowid: 7,
                inserted: false
            }]
        );
        let during = watch.ticket().unwrap();
        let mut kept = 0;
        watch.keep(before, || kept += 1);
        watch.keep(during, || kept += 1);
        assert_eq!(kept, 0, "nothing read across or during a commit is kept");
        watch.settled();
        watch.keep(during, || kept += 1);
        assert_eq!(kept, 0, "a read begun before the commit was visible");
        let after = watch.ticket().unwrap();
        watch.keep(after, || kept += 1);
        assert_eq!(kept, 1);
    }

    #[test]
    fn rolled_back_changes_are_not_told() {
        let (watch, _dir) = claimed();
        let seen = Arc::new(Seen(Mutex::new(Vec::new())));
        watch.add(seen.clone());
        watch.row_changed("memberships", 1, true);
        watch.rolled_back();
        watch.committing();
        assert!(seen.0.lock().unwrap().is_empty());
    }

    #[test]
    fn nothing_is_kept_unclaimed_or_once_another_server_came() {
        assert!(Watch::new().ticket().is_none());
        let (watch, path) = claimed();
        assert!(watch.alone());
        std::fs::write(&path, b"+").unwrap();
        assert!(!watch.alone() && watch.ticket().is_none());
        std::fs::remove_file(path).unwrap();
    }
}
