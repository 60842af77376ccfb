//! `mutual admin seed`: a realistic dataset built fast, for benchmarks and their smoke tests.
//!
//! Members, communities (each with its default room), memberships, topics with their posts
//! numbered by `seq`, one big topic, chat history and the search index, all written in large
//! transactions with multi-row inserts and ids assigned here (the seeder holds the writer, so no
//! other writer can take them meanwhile). Every member shares one precomputed argon2 hash; post
//! bodies come from a pool rendered once with `markdown::render` and folded once for the index.
//! The invariants the app keeps hold afterwards: `topics.last_seq`/`reply_count`/`last_post_at`,
//! `posts.seq` 1..n per topic, authors are members, one default room per community, every post
//! indexed. Sessions can be made for the first members, so a load generator needs no logins.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::accounts::{password, session};
use crate::db;
use crate::store::{AsDb, Backend, Db, Store, Tx, now_ms};
use crate::{markdown, text};

/// The password of every seeded member.
pub const SEED_PASSWORD: &str = "seeded-members-password-42";

/// How big a dataset to build.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    pub members: u64,
    pub communities: u64,
    /// Posts in all, the big topic's included.
    pub posts: u64,
    /// Replies in the big topic (it also has its opening post).
    pub big_topic_replies: u64,
    pub chat_messages: u64,
    /// Sessions to make for members 1..=N (all members of the first community).
    pub tokens: u64,
    /// Where to write the tokens, one per line.
    pub tokens_file: Option<PathBuf>,
    /// The first community's address (public, so anyone may read it).
    pub prefix: String,
    pub rng_seed: u64,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            members: 100_000,
            communities: 20,
            posts: 1_000_000,
            big_topic_replies: 10_000,
            chat_messages: 100_000,
            tokens: 10_000,
            tokens_file: None,
            prefix: "seed".into(),
            rng_seed: 42,
        }
    }
}

/// What the load generator needs to know of the seeded data.
#[derive(Debug, serde::Serialize)]
pub struct SeedReport {
    pub community: String,
    pub big_topic: i64,
    pub room: i64,
    pub small_topic: i64,
    pub members: u64,
    pub posts: u64,
    pub chat_messages: u64,
    pub tokens: u64,
    pub tokens_file: Option<String>,
    pub seconds: f64,
    pub posts_per_second: f64,
}

/// One bound value of a multi-row insert.
enum V<'a> {
    I(i64),
    S(&'a str),
    B(bool),
}

/// Rows of one table, inserted many per statement.
struct Batch<'a> {
    /// `INSERT INTO t (a, b, c)`.
    head: &'static str,
    /// Per column, how its placeholder is written (`{}` is the placeholder).
    columns: &'static [&'static str],
    values: Vec<V<'a>>,
}

impl<'a> Batch<'a> {
    fn new(head: &'static str, columns: &'static [&'static str]) -> Self {
        Batch {
            head,
            columns,
            values: Vec::new(),
        }
    }

    fn row(&mut self, values: impl IntoIterator<Item = V<'a>>) {
        self.values.extend(values);
    }

    fn rows(&self) -> usize {
        self.values.len() / self.columns.len()
    }

    /// Inserts everything gathered (several statements under SQLite's 32,766 parameters).
    ///
    /// SQLite gets positional `?` placeholders: it treats `$N` as a name, and binding thousands
    /// of named parameters looks each one up by name (quadratic: 84% of the seeding time).
    async fn flush(&mut self, tx: &mut Tx) -> anyhow::Result<()> {
        let per_row = self.columns.len();
        let rows_per_statement = (30_000 / per_row).max(1);
        let positional = matches!(tx.db(), Db::Sqlite(_));
        for chunk in self.values.chunks(rows_per_statement * per_row) {
            let mut sql = String::with_capacity(self.head.len() + chunk.len() * 6);
            sql.push_str(self.head);
            sql.push_str(" VALUES ");
            for (i, _) in chunk.iter().enumerate() {
                let col = i % per_row;
                if col == 0 {
                    sql.push_str(if i == 0 { "(" } else { ",(" });
                } else {
                    sql.push(',');
                }
                let placeholder = if positional {
                    "?".to_owned()
                } else {
                    format!("${}", i + 1)
                };
                sql.push_str(&self.columns[col].replace("{}", &placeholder));
                if col == per_row - 1 {
                    sql.push(')');
                }
            }
            match tx.db() {
                Db::Sqlite(c) => {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for v in chunk {
                        q = match v {
                            V::I(x) => q.bind(*x),
                            V::S(x) => q.bind(*x),
                            V::B(x) => q.bind(*x),
                        };
                    }
                    q.execute(c).await?;
                }
                Db::Postgres(c) => {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for v in chunk {
                        q = match v {
                            V::I(x) => q.bind(*x),
                            V::S(x) => q.bind(*x),
                            V::B(x) => q.bind(*x),
                        };
                    }
                    q.execute(c).await?;
                }
            }
        }
        self.values.clear();
        Ok(())
    }
}

/// A post body: its markdown, stored HTML and folded search text.
struct Body {
    markdown: String,
    html: String,
    folded: String,
}

const WORDS: &[&str] = &[
    "sugar",
    "walk",
    "doctor",
    "breakfast",
    "glucose",
    "sleep",
    "weight",
    "pressure",
    "morning",
    "meal",
    "protein",
    "water",
    "clinic",
    "insulin",
    "pills",
    "family",
    "support",
    "week",
    "goal",
    "steps",
    "salad",
    "craving",
    "progress",
    "scale",
    "clothes",
    "energy",
    "tired",
    "happy",
    "reading",
    "numbers",
    "diet",
    "exercise",
    "group",
    "friend",
    "coffee",
    "vegetables",
    "rice",
    "bread",
    "fruit",
    "swim",
    "garden",
    "stairs",
    "knees",
    "sleeve",
    "surgery",
    "recovery",
    "azúcar",
    "caminar",
    "médico",
    "semana",
];

fn sentence(rng: &mut SmallRng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    s
}

/// A pool of varied markdown bodies (emphasis, lists, links, mentions), rendered once.
fn body_pool(rng: &mut SmallRng, size: usize, members: u64, user_prefix: &str) -> Vec<Body> {
    (0..size)
        .map(|i| {
            let words = rng.random_range(8..30);
            let mut md = sentence(rng, words);
            md.push_str(".\n\n");
            match i % 5 {
                0 => md.push_str(&format!(
                    "**{}** and _{}_.",
                    sentence(rng, 2),
                    sentence(rng, 3)
                )),
                1 => md.push_str(&format!(
                    "- {}\n- {}\n- {}",
                    sentence(rng, 3),
                    sentence(rng, 4),
                    sentence(rng, 2)
                )),
                2 => {
                    let who = rng.random_range(1..=members.max(1));
                    md.push_str(&format!(
                        "Thanks @{user_prefix}{who} — see [{}](https://example.org/{i}).",
                        sentence(rng, 2)
                    ))
                }
                3 => md.push_str(&format!("> {}\n\n{}", sentence(rng, 6), sentence(rng, 10))),
                _ => md.push_str(&sentence(rng, 12)),
            }
            let rendered = markdown::render(&md);
            let folded = text::fold(&markdown::plain_text(&md));
            Body {
                markdown: md,
                html: rendered.html,
                folded,
            }
        })
        .collect()
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} ({{per_sec}}, {{eta}} left)"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

async fn next_id(store: &Store, table: &str) -> anyhow::Result<i64> {
    let mut conn = store.read().await?;
    let sql = format!("SELECT COALESCE(MAX(id), 0) FROM {table}");
    let max = match conn.db() {
        Db::Sqlite(c) => {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(c)
                .await?
        }
        Db::Postgres(c) => {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(c)
                .await?
        }
    };
    Ok(max + 1)
}

/// PostgreSQL identity columns do not see ids given explicitly: move them past what we wrote.
async fn bump_sequences(store: &Store) -> anyhow::Result<()> {
    if store.backend() != Backend::Postgres {
        return Ok(());
    }
    let mut conn = store.write().await?;
    for table in [
        "users",
        "communities",
        "topics",
        "posts",
        "rooms",
        "chat_messages",
        "sessions",
    ] {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
        );
        if let Db::Postgres(c) = conn.db() {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(c).await?;
        }
    }
    Ok(())
}

/// Builds the dataset and says where its landmarks are.
pub async fn seed(store: &Store, o: &SeedOptions) -> anyhow::Result<SeedReport> {
    anyhow::ensure!(o.members >= 1, "--members must be at least 1");
    anyhow::ensure!(o.communities >= 1, "--communities must be at least 1");
    anyhow::ensure!(
        o.posts > o.big_topic_replies,
        "--posts must be more than --big-topic-replies"
    );
    anyhow::ensure!(o.tokens <= o.members, "--tokens cannot exceed --members");
    let started = Instant::now();
    let mut rng = SmallRng::seed_from_u64(o.rng_seed);
    let hash = tokio::task::spawn_blocking(|| password::hash_blocking(SEED_PASSWORD)).await??;
    let pool = body_pool(&mut rng, 2048, o.members, &o.prefix_user());
    let now = now_ms();
    let year_ago = now - 365 * 24 * 3600 * 1000;

    // Members.
    let first_user = next_id(store, "users").await?;
    let names: Vec<(String, String)> = (1..=o.members)
        .map(|n| {
            let u = format!("{}{n}", o.prefix_user());
            (u.clone(), u.to_ascii_lowercase())
        })
        .collect();
    let display: Vec<String> = (1..=o.members).map(|n| format!("Member {n}")).collect();
    let progress = bar(o.members, "members");
    for (chunk_no, chunk) in names.chunks(20_000).enumerate() {
        let mut tx = store.begin().await?;
        let mut users = Batch::new(
            "INSERT INTO users (id, username, username_key, display_name, password_hash, created_at, updated_at)",
            &["{}", "{}", "{}", "{}", "{}", "{}", "{}"],
        );
        for (i, (name, key)) in chunk.iter().enumerate() {
            let n = chunk_no * 20_000 + i;
            let created = year_ago + n as i64;
            users.row([
                V::I(first_user + n as i64),
                V::S(name),
                V::S(key),
                V::S(&display[n]),
                V::S(&hash),
                V::I(created),
                V::I(created),
            ]);
        }
        users.flush(&mut tx).await?;
        tx.commit().await?;
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    let user_id = |n: u64| first_user + n as i64 - 1; // n is 1-based
    // Seeded members said yes to holding health data, as members who sign up may (one
    // statement: a row per member, the English text's hash).
    {
        use crate::accounts::consent;
        let notice = consent::current_notice(crate::accounts::types::Locale::En);
        let mut tx = store.begin().await?;
        db!(
            tx,
            execute,
            "INSERT INTO consents (user_id, kind, version, locale, text_sha256, source, granted_at)
             SELECT id, $1, $2, 'en', $3, 'seed', created_at FROM users WHERE id >= $4 AND id <= $5",
            consent::HEALTH_DATA,
            notice.version,
            consent::sha256_hex(notice.text),
            user_id(1),
            user_id(o.members)
        )?;
        tx.commit().await?;
    }

    // Communities, default rooms, memberships. Community 0 is public and holds the token
    // holders; members are spread over the others (and over community 0 when it is the only one).
    let first_community = next_id(store, "communities").await?;
    let first_room = next_id(store, "rooms").await?;
    let slugs: Vec<String> = (0..o.communities)
        .map(|c| {
            if c == 0 {
                o.prefix.clone()
            } else {
                format!("{}-{c}", o.prefix)
            }
        })
        .collect();
    let community_names: Vec<String> = (0..o.communities)
        .map(|c| format!("Seeded community {c}"))
        .collect();
    let mut members_of: Vec<Vec<i64>> = vec![Vec::new(); o.communities as usize];
    {
        let mut tx = store.begin().await?;
        let mut communities = Batch::new(
            "INSERT INTO communities (id, slug, name, description, visibility, created_by, created_at)",
            &["{}", "{}", "{}", "{}", "{}", "{}", "{}"],
        );
        let mut rooms = Batch::new(
            "INSERT INTO rooms (id, community_id, name, topic, is_default, created_by, created_at)",
            &["{}", "{}", "{}", "{}", "{}", "{}", "{}"],
        );
        for c in 0..o.communities as usize {
            let id = first_community + c as i64;
            communities.row([
                V::I(id),
                V::S(&slugs[c]),
                V::S(&community_names[c]),
                V::S("Seeded for benchmarks."),
                V::S(if c == 0 { "public" } else { "members" }),
                V::I(user_id(1)),
                V::I(year_ago),
            ]);
            rooms.row([
                V::I(first_room + c as i64),
                V::I(id),
                V::S("General"),
                V::S(""),
                V::B(true),
                V::I(user_id(1)),
                V::I(year_ago),
            ]);
        }
        communities.flush(&mut tx).await?;
        rooms.flush(&mut tx).await?;
        // Like a community made through the API: its creator organises it.
        for c in 0..o.communities as i64 {
            db!(
                tx,
                execute,
                "INSERT INTO community_roles (community_id, user_id, role, granted_by, granted_at) VALUES ($1, $2, 'organiser', $2, $3)",
                first_community + c,
                user_id(1),
                year_ago
            )?;
        }
        tx.commit().await?;
    }
    let progress = bar(o.members, "memberships");
    let mut n = 1;
    while n <= o.members {
        let mut tx = store.begin().await?;
        let mut memberships = Batch::new(
            "INSERT INTO memberships (community_id, user_id, status, created_at)",
            &["{}", "{}", "{}", "{}"],
        );
        let end = (n + 20_000).min(o.members + 1);
        for m in n..end {
            let uid = user_id(m);
            let home = if o.communities == 1 {
                0
            } else {
                1 + (m % (o.communities - 1)) as usize
            };
            let mut join = |c: usize, list: &mut Vec<Vec<i64>>| {
                list[c].push(uid);
                memberships.row([
                    V::I(first_community + c as i64),
                    V::I(uid),
                    V::S("active"),
                    V::I(year_ago + m as i64),
                ]);
            };
            if m == 1 {
                // The creator of every community is its member (and the first one's organiser).
                for c in 0..o.communities as usize {
                    join(c, &mut members_of);
                }
                continue;
            }
            if m <= o.tokens && home != 0 {
                join(0, &mut members_of);
            }
            join(home, &mut members_of);
        }
        memberships.flush(&mut tx).await?;
        tx.commit().await?;
        progress.inc(end - n);
        n = end;
    }
    progress.finish_and_clear();

    // Topics and posts. The big topic comes first, in community 0; the rest are spread over
    // every community in topics of 2–100 posts.
    let first_topic = next_id(store, "topics").await?;
    let first_post = next_id(store, "posts").await?;
    let mut topic_id = first_topic;
    let mut post_id = first_post;
    let mut written = 0u64;
    let mut first_topic_of: HashSet<(usize, i64)> = HashSet::new();
    let titles: Vec<String> = (0..512)
        .map(|_| {
            let mut t = sentence(&mut rng, 5);
            if let Some(f) = t.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            t
        })
        .collect();
    let title_folded: Vec<String> = titles.iter().map(|t| text::fold(t)).collect();
    let backend = store.backend();
    let progress = bar(o.posts, "posts");
    let mut small_topic = 0;
    let mut big_topic = 0;
    while written < o.posts {
        let mut tx = store.begin().await?;
        let mut topics = Batch::new(
            "INSERT INTO topics (id, community_id, author_id, title, last_seq, reply_count, first_of_author, created_at, last_post_at)",
            &["{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}"],
        );
        let mut posts = Batch::new(
            "INSERT INTO posts (id, topic_id, community_id, seq, author_id, body, body_html, created_at)",
            &["{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}"],
        );
        let mut index = match backend {
            Backend::Sqlite => Batch::new("INSERT INTO post_search (rowid, text)", &["{}", "{}"]),
            Backend::Postgres => Batch::new(
                "INSERT INTO post_search (post_id, vector)",
                &["{}", "to_tsvector('simple', {})"],
            ),
        };
        // Title + body text of opening posts, kept alive until the batch is flushed.
        let mut opening_text: Vec<String> = Vec::new();
        let mut opening_rows: Vec<(i64, usize)> = Vec::new();
        let batch_start = written;
        while written < o.posts && written - batch_start < 25_000 {
            let (c, count) = if topic_id == first_topic {
                (0usize, o.big_topic_replies + 1)
            } else {
                let c = rng.random_range(0..o.communities as usize);
                (c, rng.random_range(2..=100u64).min(o.posts - written))
            };
            let members = &members_of[c];
            let community = first_community + c as i64;
            let title = rng.random_range(0..titles.len());
            let start = rng.random_range(year_ago..now - 3_600_000);
            let step = ((now - start) / (count as i64 + 1)).clamp(1, 600_000);
            let author = members[rng.random_range(0..members.len())];
            let last_post_at = start + step * (count as i64 - 1);
            topics.row([
                V::I(topic_id),
                V::I(community),
                V::I(author),
                V::S(&titles[title]),
                V::I(count as i64),
                V::I(count as i64 - 1),
                V::B(first_topic_of.insert((c, author))),
                V::I(start),
                V::I(last_post_at),
            ]);
            for seq in 1..=count {
                let body = &pool[rng.random_range(0..pool.len())];
                let by = if seq == 1 {
                    author
                } else {
                    members[rng.random_range(0..members.len())]
                };
                posts.row([
                    V::I(post_id),
                    V::I(topic_id),
                    V::I(community),
                    V::I(seq as i64),
                    V::I(by),
                    V::S(&body.markdown),
                    V::S(&body.html),
                    V::I(start + step * (seq as i64 - 1)),
                ]);
                if seq == 1 {
                    opening_rows.push((post_id, opening_text.len()));
                    opening_text.push(format!("{} {}", title_folded[title], body.folded));
                } else {
                    index.row([V::I(post_id), V::S(&body.folded)]);
                }
                post_id += 1;
            }
            if topic_id == first_topic {
                big_topic = topic_id;
            } else if small_topic == 0 {
                small_topic = topic_id;
            }
            topic_id += 1;
            written += count;
        }
        for (id, i) in &opening_rows {
            index.row([V::I(*id), V::S(&opening_text[*i])]);
        }
        topics.flush(&mut tx).await?;
        let n = posts.rows();
        posts.flush(&mut tx).await?;
        index.flush(&mut tx).await?;
        tx.commit().await?;
        progress.inc(n as u64);
    }
    progress.finish_and_clear();
    let post_seconds = started.elapsed().as_secs_f64();

    // Chat history in the first community's default room, and a little in every other room.
    let room = first_room;
    let first_message = next_id(store, "chat_messages").await?;
    let progress = bar(o.chat_messages, "chat messages");
    let mut message_id = first_message;
    let mut sent = 0u64;
    let chat_start = now - 30 * 24 * 3600 * 1000;
    while sent < o.chat_messages {
        let mut tx = store.begin().await?;
        let mut messages = Batch::new(
            "INSERT INTO chat_messages (id, room_id, author_id, body, body_html, created_at)",
            &["{}", "{}", "{}", "{}", "{}", "{}"],
        );
        let end = (sent + 25_000).min(o.chat_messages);
        for m in sent..end {
            let c = if m % 2 == 0 {
                0
            } else {
                rng.random_range(0..o.communities as usize)
            };
            let members = &members_of[c];
            let body = &pool[rng.random_range(0..pool.len())];
            messages.row([
                V::I(message_id),
                V::I(first_room + c as i64),
                V::I(members[rng.random_range(0..members.len())]),
                V::S(&body.markdown),
                V::S(&body.html),
                V::I(chat_start + m as i64 * 1000),
            ]);
            message_id += 1;
        }
        messages.flush(&mut tx).await?;
        tx.commit().await?;
        progress.inc(end - sent);
        sent = end;
    }
    if o.chat_messages > 0 {
        let mut tx = store.begin().await?;
        db!(
            tx,
            execute,
            "UPDATE rooms SET last_message_at = (SELECT COALESCE(MAX(m.created_at), 0) FROM chat_messages m WHERE m.room_id = rooms.id)
             WHERE id >= $1 AND id < $2",
            first_room,
            first_room + o.communities as i64
        )?;
        tx.commit().await?;
    }
    crate::chat::renumber_all(store).await?;
    progress.finish_and_clear();

    // Sessions for the first members, for load generators.
    if o.tokens > 0 {
        let tokens: Vec<String> = (0..o.tokens)
            .map(|_| {
                let bytes: [u8; 24] = rng.random();
                format!(
                    "mut_seed{}",
                    bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
                )
            })
            .collect();
        let hashes: Vec<String> = tokens.iter().map(|t| session::hash_token(t)).collect();
        let csrf: Vec<String> = (0..o.tokens)
            .map(|_| format!("{:032x}", rng.random::<u128>()))
            .collect();
        let expires = now + 30 * 24 * 3600 * 1000;
        for (chunk_no, chunk) in hashes.chunks(20_000).enumerate() {
            let mut tx = store.begin().await?;
            let mut sessions = Batch::new(
                "INSERT INTO sessions (user_id, token_hash, csrf_token, user_agent, created_at, last_used_at, expires_at)",
                &["{}", "{}", "{}", "{}", "{}", "{}", "{}"],
            );
            for (i, h) in chunk.iter().enumerate() {
                let n = (chunk_no * 20_000 + i) as u64;
                sessions.row([
                    V::I(user_id(n + 1)),
                    V::S(h),
                    V::S(&csrf[n as usize]),
                    V::S("mutual admin seed"),
                    V::I(now),
                    V::I(now),
                    V::I(expires),
                ]);
            }
            sessions.flush(&mut tx).await?;
            tx.commit().await?;
        }
        if let Some(path) = &o.tokens_file {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = std::io::BufWriter::new(
                options
                    .open(path)
                    .with_context(|| format!("writing {}", path.display()))?,
            );
            for t in &tokens {
                writeln!(f, "{t}")?;
            }
            f.flush()?;
        }
    }
    bump_sequences(store).await?;
    // Fresh statistics, so the planner picks the indexes a live database would use (right
    // after a bulk load PostgreSQL's autovacuum has not looked yet, and it sorted a room's
    // 50,000 messages for each backlog).
    let mut conn = store.write().await?;
    db!(conn, execute, "ANALYZE")?;
    drop(conn);
    let seconds = started.elapsed().as_secs_f64();
    Ok(SeedReport {
        community: o.prefix.clone(),
        big_topic,
        room,
        small_topic,
        members: o.members,
        posts: o.posts,
        chat_messages: o.chat_messages,
        tokens: o.tokens,
        tokens_file: o.tokens_file.as_ref().map(|p| p.display().to_string()),
        seconds,
        posts_per_second: o.posts as f64 / post_seconds.max(0.001),
    })
}

impl SeedOptions {
    /// Usernames are `<prefix>` without dashes, then the member's number.
    fn prefix_user(&self) -> String {
        let p: String = self
            .prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        if p.is_empty() { "member".into() } else { p }
    }
}
