//! Live sessions kept in memory, so a signed-in request costs no database round trip in the
//! common case (issue #20.1).
//!
//! The map is keyed by the SHA-256 of the token and holds what `session::lookup` reads: the
//! session, its member (names, roles, language, country, filters, text size), its CSRF token,
//! `last_used_at` and `expires_at`. Correctness rests on three rules:
//!
//! - **Forget at once, everywhere.** Whatever changes what an entry holds (signing out, every
//!   session ended, a password change or reset, erasure, a suspension or ban, a site role
//!   granted, a settings change) forgets all of the member's entries after its commit, on this
//!   node synchronously and on the others over the bus (`Realtime::member_changed`,
//!   `session_ended`, `sessions_ended`; delivered in `bus::deliver`).
//! - **No stale refill.** Every forget moves an epoch on; a lookup notes the epoch before its
//!   query and stores the row only if no forget happened meanwhile, so a row read before a change
//!   committed is never kept after the change was announced.
//! - **Bounded doubt.** An entry is read again from the database after [`MAX_AGE`] whatever
//!   happens (a change made outside the server, an event lost on the bus), the expiry is checked
//!   on every hit, and while the bus to other nodes is down the cache is not used at all and is
//!   emptied when it comes back (`bus`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::session::Session;

/// How long an entry is used before the database is asked again.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// Entries kept at most; beyond it the oldest go.
const CAPACITY: usize = 20_000;

/// A token's SHA-256.
pub type Key = [u8; 32];

/// One cached session: what a request needs, and the times the touch and the expiry use.
#[derive(Clone)]
pub struct Cached {
    pub session: Session,
    pub last_used_at: i64,
    pub expires_at: i64,
}

struct Entry {
    cached: Cached,
    stored: Instant,
}

#[derive(Default)]
struct Inner {
    /// Moves on with every forget (see the module's documentation).
    epoch: u64,
    entries: HashMap<Key, Entry>,
}

#[derive(Default)]
pub struct SessionCache {
    inner: Mutex<Inner>,
}

impl crate::realtime::hub::SessionKeeper for SessionCache {
    fn forget_user(&self, user_id: i64) {
        SessionCache::forget_user(self, user_id);
    }

    fn clear(&self) {
        SessionCache::clear(self);
    }
}

impl SessionCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the map whole (no update spans an await or
        // can panic half-way), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The epoch to pass to [`SessionCache::store`] after reading the database.
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// The live entry of `key` at `now_ms`, if any: an expired or too old one is dropped.
    pub fn get(&self, key: &Key, now_ms: i64) -> Option<Cached> {
        let mut inner = self.lock();
        let entry = inner.entries.get(key)?;
        if entry.cached.expires_at > now_ms && entry.stored.elapsed() < MAX_AGE {
            return Some(entry.cached.clone());
        }
        inner.entries.remove(key);
        None
    }

    /// Keeps `cached` under `key`, unless something was forgotten since `epoch` was read.
    pub fn store(&self, key: Key, cached: Cached, epoch: u64) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            return;
        }
        if inner.entries.len() >= CAPACITY && !inner.entries.contains_key(&key) {
            evict(&mut inner.entries);
        }
        inner.entries.insert(
            key,
            Entry {
                cached,
                stored: Instant::now(),
            },
        );
    }

    /// Notes a touch: the entry's `last_used_at` and `expires_at` move to `now_ms` (and on), so
    /// the next touch is [`session`]'s interval later. Whether this call made the change: two
    /// requests at once do not both write.
    ///
    /// [`session`]: super::session
    pub fn touch(&self, key: &Key, seen_last_used: i64, now_ms: i64, expires_at: i64) -> bool {
        let mut inner = self.lock();
        match inner.entries.get_mut(key) {
            Some(e) if e.cached.last_used_at == seen_last_used => {
                e.cached.last_used_at = now_ms;
                e.cached.expires_at = expires_at;
                true
            }
            Some(_) => false,
            // Forgotten meanwhile (or never kept): the caller writes as it would without a cache.
            None => true,
        }
    }

    /// Forgets every session of one member.
    pub fn forget_user(&self, user_id: i64) {
        let mut inner = self.lock();
        inner.epoch = inner.epoch.wrapping_add(1);
        inner
            .entries
            .retain(|_, e| e.cached.session.user.id != user_id);
    }

    /// Forgets everything (the bus came back after an outage).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.epoch = inner.epoch.wrapping_add(1);
        inner.entries.clear();
    }

    /// Entries held (for metrics and tests).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room: drops entries past [`MAX_AGE`], and if that is not enough the oldest quarter.
fn evict(entries: &mut HashMap<Key, Entry>) {
    entries.retain(|_, e| e.stored.elapsed() < MAX_AGE);
    if entries.len() < CAPACITY {
        return;
    }
    let mut ages: Vec<Instant> = entries.values().map(|e| e.stored).collect();
    let cut = ages.len() / 4;
    let (_, threshold, _) = ages.select_nth_unstable(cut);
    let threshold = *threshold;
    entries.retain(|_, e| e.stored > threshold);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::User;
    use crate::accounts::types::Locale;

    fn cached(user: i64) -> Cached {
        Cached {
            session: Session {
                id: user,
                user: User {
                    id: user,
                    username: format!("u{user}"),
                    display_name: String::new(),
                    roles: Vec::new(),
                    created_at: 0,
                },
                csrf_token: String::new(),
                via_cookie: false,
                content_filters: Vec::new(),
                locale: Locale::default(),
                country: None,
                text_size: 100,
                moderates_groups: false,
                kept_away: Default::default(),
                under_sanction: false,
                referred: false,
            },
            last_used_at: 0,
            expires_at: i64::MAX,
        }
    }

    #[test]
    fn a_forget_during_a_read_keeps_the_read_out() {
        let cache = SessionCache::default();
        let epoch = cache.epoch();
        cache.forget_user(7);
        cache.store([1; 32], cached(1), epoch);
        assert!(cache.get(&[1; 32], 0).is_none());
        cache.store([1; 32], cached(1), cache.epoch());
        assert!(cache.get(&[1; 32], 0).is_some());
        cache.forget_user(1);
        assert!(cache.get(&[1; 32], 0).is_none());
    }

    #[test]
    fn an_expired_entry_is_not_used() {
        let cache = SessionCache::default();
        let mut c = cached(1);
        c.expires_at = 10;
        cache.store([1; 32], c, cache.epoch());
        assert!(cache.get(&[1; 32], 9).is_some());
        assert!(cache.get(&[1; 32], 10).is_none());
    }

    #[test]
    fn the_map_stays_bounded() {
        let cache = SessionCache::default();
        for i in 0..(CAPACITY + 10) {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            cache.store(key, cached(i as i64), cache.epoch());
        }
        assert!(cache.len() <= CAPACITY);
    }
}
