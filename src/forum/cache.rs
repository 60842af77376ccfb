//! Topic pages kept in memory: the rows of a page of posts, reused while the topic has not
//! changed. Reading a page of 20–50 posts is most of a topic view's database work; the topic row
//! that every view reads anyway carries `last_seq` (new posts) and `version` (bumped by the
//! database's own triggers on every change to its posts, corrections and milestones, migration
//! 0016), so a hit is never stale across nodes or write paths. What the triggers cannot see —
//! an author renaming themselves — lives at most `MAX_AGE` in the cache.
//!
//! Only what every viewer shares is cached (the rows); what depends on the viewer (hidden posts,
//! their own reactions, content filters) is worked out on every request as before.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use super::posts::PostRow;

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
