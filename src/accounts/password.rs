//! argon2id password hashes. Hashing takes tens of milliseconds of CPU and ~19 MiB of memory on
//! purpose, so it is bounded: at most one hash per core at a time (a sign-up or login flood
//! queues instead of spawning a thread and an allocation each), each on the blocking pool with a
//! memory buffer that is reused, never freed and reallocated (the allocator kept those, and the
//! process grew by gigabytes under a flood).

use std::sync::{Mutex, OnceLock};

use anyhow::anyhow;
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use tokio::sync::Semaphore;

use super::types::Password;

/// Largest memory cost a stored hash may ask for, in KiB (64 MiB): a hash from elsewhere with a
/// larger one is refused rather than allowed to allocate without bound.
const MAX_M_COST_KIB: u32 = 64 * 1024;

/// One permit and one memory buffer per core.
struct Hashers {
    permits: Semaphore,
    buffers: Mutex<Vec<Vec<Block>>>,
}

fn hashers() -> &'static Hashers {
    static HASHERS: OnceLock<Hashers> = OnceLock::new();
    HASHERS.get_or_init(|| {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Hashers {
            permits: Semaphore::new(cores),
            buffers: Mutex::new(Vec::new()),
        }
    })
}

/// Runs `work` on the blocking pool once a permit is free, lending it a memory buffer.
async fn bounded<T: Send + 'static>(
    work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> anyhow::Result<T> {
    let hashers = hashers();
    let _permit = hashers.permits.acquire().await?;
    let result = tokio::task::spawn_blocking(move || {
        let mut buffer = take_buffer();
        let out = work(&mut buffer);
        give_back(buffer);
        out
    })
    .await?;
    Ok(result)
}

fn take_buffer() -> Vec<Block> {
    hashers()
        .buffers
        .lock()
        .ok()
        .and_then(|mut b| b.pop())
        .unwrap_or_default()
}

fn give_back(buffer: Vec<Block>) {
    if let Ok(mut buffers) = hashers().buffers.lock() {
        buffers.push(buffer);
    }
}

/// Hashes into `out` with `buffer` as argon2's memory, growing it once if it is too small.
fn hash_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    buffer: &mut Vec<Block>,
) -> anyhow::Result<()> {
    let params = argon2.params();
    if params.m_cost() > MAX_M_COST_KIB {
        return Err(anyhow!("a password hash asks for {} KiB", params.m_cost()));
    }
    let blocks = params.block_count();
    if buffer.len() < blocks {
        buffer.resize(blocks, Block::default());
    }
    argon2
        .hash_password_into_with_memory(password, salt, out, &mut buffer[..blocks])
        .map_err(|e| anyhow!("hashing a password: {e}"))
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) of a new password.
pub async fn hash(password: &Password) -> anyhow::Result<String> {
    let pw = password.as_str().to_owned();
    bounded(move |buffer| hash_with(&pw, buffer)).await?
}

/// For a command's own worker pool (CLI import, seeding): the same bound as the server's.
pub async fn hash_str(password: &str) -> anyhow::Result<String> {
    let pw = password.to_owned();
    bounded(move |buffer| hash_with(&pw, buffer)).await?
}

/// Blocking, outside the bound, with a buffer of its own: for one-off hashes off the server's
/// path (the seed's shared password).
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    hash_with(password, &mut Vec::new())
}

fn hash_with(password: &str, buffer: &mut Vec<Block>) -> anyhow::Result<String> {
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hash_into(&argon2, password.as_bytes(), &salt, &mut out, buffer)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow!("{e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow!("{e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow!("{e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc` (compared in constant time).
fn matches(password: &str, phc: &str, buffer: &mut Vec<Block>) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(phc).map_err(|e| anyhow!("{e}"))?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Ok(false);
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| anyhow!("{e}"))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| anyhow!("{e}"))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| anyhow!("{e}"))?;
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    hash_into(
        &argon2,
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
        buffer,
    )?;
    let computed = Output::new(&out).map_err(|e| anyhow!("{e}"))?;
    Ok(&computed == expected)
}

/// Whether `password` matches `phc`. With no account (`phc` = None) a dummy hash is checked
/// anyway, so the answer takes as long whether or not the username exists.
pub async fn verify(password: &str, phc: Option<String>) -> bool {
    let pw = password.to_owned();
    bounded(move |buffer| {
        let found = phc.is_some();
        let target = match phc {
            Some(p) => p,
            None => dummy_hash().to_owned(),
        };
        matches(&pw, &target, buffer).unwrap_or(false) && found
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("no account has this password").unwrap_or_default())
}
