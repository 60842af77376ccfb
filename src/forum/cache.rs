//! Topic pages kept in memory: the rows of a page of posts, reused while the topic has not
//! changed. Reading a page of 20–50 posts is most of a topic view's database work; the topic row
//! that every view reads anyway carries `last_seq` (new posts) and `version` (bumped by the
//! database's own triggers on every change to its posts, corrections and milestones, migration
//! 0016), so a hit is never stale across nodes or write paths. What the triggers cannot see —
//! an author renaming themselves — lives at most `MAX_AGE` in the cache.
//!
//! Only what every viewer shares is cached (the rows); what depends on the viewer (hidden posts,
//! their own reactions, content filters) is worked out on every request as before.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use super::TopicRow;
use super::posts::PostRow;
use crate::communities::{CommunityRow, RoleColumns};
use crate::store::{Change, Table, Watcher};

/// How long a page may live without its topic changing, for the changes no trigger sees.
const MAX_AGE: Duration = Duration::from_secs(10);

/// A page: the topic, the post number it follows, and how many rows were asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub topic: i64,
    pub after: i64,
    pub rows: i64,
}

/// The topic's state when the rows were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub last_seq: i64,
    pub version: i64,
}

#[derive(Clone)]
struct Entry {
    stamp: Stamp,
    at: Instant,
    bytes: u64,
    rows: Arc<Vec<PostRow>>,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<PageKey, Entry> for ByBytes {
    fn weight(&self, _key: &PageKey, entry: &Entry) -> u64 {
        entry.bytes.max(1)
    }
}

pub struct PageCache {
    pages: Option<Cache<PageKey, Entry, ByBytes>>,
}

impl PageCache {
    /// A cache of at most `megabytes` of post text (0 turns it off).
    pub fn new(megabytes: u64) -> PageCache {
        let bytes = megabytes * 1024 * 1024;
        PageCache {
            // ~40 KB per page of posts is typical; the estimate only sizes the table.
            pages: (bytes > 0)
                .then(|| Cache::with_weighter((bytes / 40_000).max(16) as usize, bytes, ByBytes)),
        }
    }

    /// The rows of `key` if they were read at `stamp` and are still young.
    pub fn get(&self, key: &PageKey, stamp: Stamp) -> Option<Arc<Vec<PostRow>>> {
        let entry = self.pages.as_ref()?.get(key)?;
        let hit = entry.stamp == stamp && entry.at.elapsed() < MAX_AGE;
        metrics::counter!("mutual_topic_page_cache_total", "result" => if hit { "hit" } else { "miss" })
            .increment(1);
        hit.then_some(entry.rows)
    }

    pub fn put(&self, key: PageKey, stamp: Stamp, rows: Arc<Vec<PostRow>>) {
        let Some(pages) = &self.pages else {
            return;
        };
        let bytes = rows.iter().map(PostRow::weight).sum::<u64>() + 64;
        pages.insert(
            key,
            Entry {
                stamp,
                at: Instant::now(),
                bytes,
                rows,
            },
        );
    }

    /// Forgets every page (an account erased: its name must not linger here).
    pub fn clear(&self) {
        if let Some(pages) = &self.pages {
            pages.clear();
        }
    }
}

/// How many entries each map of `Heads` holds before it starts again empty.
const HEADS_MAX: usize = 20_000;

/// What a topic view reads before its posts — the topic, its community, the viewer's
/// membership and roles there and their place in the topic — kept so that a signed-in view
/// needs no query. Kept only on SQLite, where the writer tells of every row it changes
/// (`store::watch`); forgotten at the commit that changes it, never stale. Another process
/// writing the same file (`mutual admin` while the site serves) is not seen: everything is
/// forgotten every `MAX_AGE` for that.
#[derive(Default)]
pub struct Heads {
    inner: std::sync::Mutex<HeadsInner>,
}

#[derive(Default)]
struct HeadsInner {
    /// When the maps were last emptied whole.
    since: Option<Instant>,
    /// By topic id, without the viewer's `last_read_seq`.
    topics: HashMap<i64, TopicRow>,
    communities: HashMap<i64, CommunityRow>,
    /// By (community, member): their membership status and community roles.
    members: HashMap<(i64, i64), (Option<String>, RoleColumns)>,
    /// By (member, topic): the last post number they read.
    reads: HashMap<(i64, i64), Option<i64>>,
}

/// A topic view's head as kept: the topic (with the viewer's place in it), its community, and
/// the viewer's membership status and roles.
pub struct Head {
    pub topic: TopicRow,
    pub community: CommunityRow,
    pub member: Option<(Option<String>, RoleColumns)>,
}

fn bounded<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= HEADS_MAX {
        map.clear();
    }
    map.insert(key, value);
}

impl Heads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HeadsInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kept head of `topic` for `viewer`, when every part of it is kept.
    pub fn get(&self, topic: i64, viewer: Option<i64>) -> Option<Head> {
        let mut inner = self.lock();
        if inner.since.is_none_or(|t| t.elapsed() >= MAX_AGE) {
            *inner = HeadsInner {
                since: Some(Instant::now()),
                ..HeadsInner::default()
            };
            return None;
        }
        let mut row = inner.topics.get(&topic)?.clone();
        let community = inner.communities.get(&row.community_id)?.clone();
        let member = match viewer {
            Some(v) => {
                row.last_read_seq = *inner.reads.get(&(v, topic))?;
                Some(inner.members.get(&(row.community_id, v))?.clone())
            }
            None => None,
        };
        Some(Head {
            topic: row,
            community,
            member,
        })
    }

    /// Keeps what a view read; call through `Watch::keep`.
    pub fn put(&self, viewer: Option<i64>, head: &Head) {
        let mut inner = self.lock();
        let topic = head.topic.id;
        if let (Some(v), Some(member)) = (viewer, &head.member) {
            bounded(&mut inner.reads, (v, topic), head.topic.last_read_seq);
            bounded(
                &mut inner.members,
                (head.topic.community_id, v),
                member.clone(),
            );
        }
        let mut row = head.topic.clone();
        row.last_read_seq = None;
        bounded(&mut inner.topics, topic, row);
        bounded(
            &mut inner.communities,
            head.community.id,
            head.community.clone(),
        );
    }
}

impl Watcher for Heads {
    fn changed(&self, changes: &[Change]) {
        let mut inner = self.lock();
        for c in changes {
            match c.table {
                Table::Topics => {
                    inner.topics.remove(&c.rowid);
                }
                Table::Communities => {
                    inner.communities.remove(&c.rowid);
                }
                // A topic shows its author's name; a new account is nobody's author yet.
                Table::Users if !c.inserted => inner.topics.clear(),
                Table::Users => {}
                // Their rows are not keyed by what the maps are: forget them all.
                Table::Memberships | Table::CommunityRoles => inner.members.clear(),
                Table::TopicReads => inner.reads.clear(),
            }
        }
    }
}
