//! argon2id password hashes. Hashing takes tens of milliseconds of CPU on purpose, so it runs on
//! the blocking pool and never stalls the async workers.

use std::sync::OnceLock;

use anyhow::anyhow;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use super::types::Password;

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) of a new password.
pub async fn hash(password: &Password) -> anyhow::Result<String> {
    let pw = password.as_str().to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&pw)).await?
}

pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow!("hashing a password: {e}"))
}

/// Whether `password` matches `phc`. With no account (`phc` = None) a dummy hash is checked
/// anyway, so the answer takes as long whether or not the username exists.
pub async fn verify(password: &str, phc: Option<String>) -> bool {
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let found = phc.is_some();
        let target = match phc {
            Some(p) => p,
            None => dummy_hash().to_owned(),
        };
        let ok = Argon2::default()
            .verify_password(pw.as_bytes(), target.as_str())
            .is_ok();
        ok && found
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("no account has this password").unwrap_or_default())
}
