//! `mutual admin create-user` and `mutual admin import-users`: accounts made from the shell, for
//! the first admin and for an organiser moving an existing group of a thousand members.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;

use super::types::{DisplayName, Email, Locale, Password, Role, Username};
use super::{NewAccount, grant_role, insert_account, password};
use crate::db;
use crate::store::{Store, now_ms};

pub struct CreateUser {
    pub username: String,
    pub password: String,
    pub roles: Vec<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

pub async fn create_user(store: &Store, args: CreateUser) -> anyhow::Result<()> {
    let username =
        Username::parse(&args.username).map_err(|e| anyhow::anyhow!("--username: {e}"))?;
    let password = Password::parse(&args.password, &[username.as_str()])
        .map_err(|e| anyhow::anyhow!("--password: {e}"))?;
    let display_name = match &args.display_name {
        Some(d) => DisplayName::parse(d)
            .map_err(|e| anyhow::anyhow!("--display-name: {e}"))?
            .into_string(),
        None => username.as_str().to_owned(),
    };
    let email = args
        .email
        .as_deref()
        .map(Email::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let roles = args
        .roles
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--role: {e}"))?;
    let account = NewAccount {
        username,
        display_name,
        email,
        locale: Locale::default(),
        country: None,
        timezone: crate::clock::Zone::UTC,
        password_hash: password::hash(&password).await?,
    };
    let mut tx = store.begin().await?;
    let id = insert_account(&mut tx, &account)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for role in &roles {
        grant_role(&mut tx, id, *role, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    tx.commit().await?;
    let mut role_names: Vec<&str> = vec!["member"];
    role_names.extend(roles.iter().map(|r| r.as_str()).filter(|r| *r != "member"));
    println!(
        "created user {} (id {id}, roles: {})",
        account.username,
        role_names.join(", ")
    );
    Ok(())
}

/// One good row of the file, ready to hash and insert.
struct ImportRow {
    line: u64,
    username: Username,
    display_name: String,
    email: Option<Email>,
    password: String,
    generated: bool,
}

/// A row that was not imported, and why.
struct BadRow {
    line: u64,
    reason: String,
}

/// Imports `username,display_name,email,password` rows. Bad rows are reported by line and
/// skipped; good rows are kept. A blank password gets a generated one, written to
/// `FILE.credentials.csv` (readable only by its owner) for the organiser to hand out.
pub async fn import_users(store: &Store, file: &Path) -> anyhow::Result<()> {
    let (rows, mut bad) = read_rows(file)?;
    let total = rows.len() as u64 + bad.len() as u64;
    let bar = ProgressBar::new(rows.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {pos}/{len} accounts ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }

    // Hash on every core (the bound in `password` keeps it to one per core, each with a reused
    // buffer): argon2 is deliberately slow, and a thousand members add up.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut hashed = Vec::with_capacity(rows.len());
    let mut pending = tokio::task::JoinSet::new();
    let mut rows = rows.into_iter();
    loop {
        while pending.len() < workers {
            let Some(row) = rows.next() else { break };
            pending.spawn(async move {
                let hash = password::hash_str(&row.password).await;
                (row, hash)
            });
        }
        let Some(done) = pending.join_next().await else {
            break;
        };
        let (row, hash) = done?;
        hashed.push((row, hash?));
        bar.inc(1);
    }
    hashed.sort_by_key(|(row, _)| row.line);

    let mut created = Vec::new();
    for chunk in hashed.chunks(200) {
        let mut tx = store.begin().await?;
        for (row, hash) in chunk {
            let now = now_ms();
            let id = db!(
                tx,
                fetch_optional scalar i64,
                "INSERT INTO users (username, username_key, display_name, email, email_key, password_hash, locale, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'en', $7, $7) ON CONFLICT DO NOTHING RETURNING id",
                row.username.as_str(),
                row.username.key(),
                &row.display_name,
                row.email.as_ref().map(|e| e.as_str().to_owned()),
                row.email.as_ref().map(Email::key),
                hash,
                now
            )?;
            match id {
                Some(_) => created.push(row),
                None => bad.push(BadRow {
                    line: row.line,
                    reason: "the username or e-mail address already has an account".into(),
                }),
            }
        }
        tx.commit().await?;
    }
    bar.finish_and_clear();

    let generated: Vec<&&ImportRow> = created.iter().filter(|r| r.generated).collect();
    if !generated.is_empty() {
        let path = credentials_path(file);
        write_credentials(&path, &generated)?;
        println!(
            "{} members had no password: theirs were generated and written to {} — hand them out privately, then delete the file",
            generated.len(),
            path.display()
        );
    }
    bad.sort_by_key(|b| b.line);
    for b in &bad {
        eprintln!("line {}: {}", b.line, b.reason);
    }
    println!(
        "imported {} of {} members; {} rows skipped",
        created.len(),
        total,
        bad.len()
    );
    Ok(())
}

fn read_rows(file: &Path) -> anyhow::Result<(Vec<ImportRow>, Vec<BadRow>)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("opening {}", file.display()))?;
    let headers: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let Some(username_col) = column("username") else {
        bail!(
            "{}: the first line must be the header `username,display_name,email,password`",
            file.display()
        );
    };
    let (display_col, email_col, password_col) =
        (column("display_name"), column("email"), column("password"));

    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut seen_names = HashSet::new();
    let mut seen_emails = HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                bad.push(BadRow {
                    line,
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let field = |col: Option<usize>| col.and_then(|c| record.get(c)).unwrap_or("").to_owned();
        let mut reject = |reason: String| bad.push(BadRow { line, reason });

        let username = match Username::parse(&field(Some(username_col))) {
            Ok(u) if u.is_reserved() => {
                reject(format!("username {u}: reserved"));
                continue;
            }
            Ok(u) => u,
            Err(e) => {
                reject(format!("username {:?}: {e}", field(Some(username_col))));
                continue;
            }
        };
        if !seen_names.insert(username.key()) {
            reject(format!("username {username}: appears earlier in the file"));
            continue;
        }
        let display_name = match field(display_col) {
            d if d.is_empty() => username.as_str().to_owned(),
            d => match DisplayName::parse(&d) {
                Ok(d) => d.into_string(),
                Err(e) => {
                    reject(format!("display_name: {e}"));
                    continue;
                }
            },
        };
        let email = match field(email_col) {
            e if e.is_empty() => None,
            e => match Email::parse(&e) {
                Ok(e) if !seen_emails.insert(e.key()) => {
                    reject(format!("email {}: appears earlier in the file", e.as_str()));
                    continue;
                }
                Ok(e) => Some(e),
                Err(err) => {
                    reject(format!("email {e:?}: {err}"));
                    continue;
                }
            },
        };
        let (password, generated) = match field(password_col) {
            p if p.is_empty() => (generate_password(), true),
            p => match Password::parse(&p, &[username.as_str()]) {
                Ok(p) => (p.as_str().to_owned(), false),
                Err(e) => {
                    reject(format!("password: {e}"));
                    continue;
                }
            },
        };
        rows.push(ImportRow {
            line,
            username,
            display_name,
            email,
            password,
            generated,
        });
    }
    Ok((rows, bad))
}

/// Four groups of four letters and digits, without look-alikes (0/O, 1/l/I): easy to read aloud
/// or copy from paper.
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..4)
        .map(|_| {
            (0..4)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn credentials_path(file: &Path) -> PathBuf {
    let mut name = file
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_default();
    name.push(".credentials.csv");
    file.with_file_name(name)
}

fn write_credentials(path: &Path, rows: &[&&ImportRow]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "username,password")?;
    for row in rows {
        writeln!(f, "{},{}", row.username, row.password)?;
    }
    Ok(())
}
