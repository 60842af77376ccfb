//! Where media bytes live: a small trait with two homes — a local folder (the default, one node)
//! and an S3-compatible bucket (several nodes share it), chosen by `MUTUAL_MEDIA_URL`.
//!
//! Keys are the server's own (`m/<random>/full`), never a member's file name. A `put` returns
//! only once the bytes are durable: the folder fsyncs the file and its directory; S3 answers a
//! PUT once it has stored the object.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;

/// A place for media bytes.
#[async_trait::async_trait]
pub trait MediaStore: Send + Sync {
    /// Stores `data` under `key`, durably, replacing what was there.
    async fn put(&self, key: &str, data: Bytes) -> anyhow::Result<()>;
    /// The bytes under `key`; `None` when there are none.
    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>>;
    /// Removes `key`; removing what is not there is not an error.
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// For the start-up log line: where the bytes go (never a credential).
    fn describe(&self) -> String;
}

/// Opens the store `url` names: `file://DIR` or `s3://BUCKET?endpoint=URL&region=R`.
pub fn open(url: &str) -> anyhow::Result<Arc<dyn MediaStore>> {
    if let Some(dir) = url.strip_prefix("file://") {
        return Ok(Arc::new(LocalDir::new(PathBuf::from(dir))?));
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        return Ok(Arc::new(S3::new(rest)?));
    }
    anyhow::bail!("MUTUAL_MEDIA_URL must start with file:// or s3://, got {url:?}")
}

/// Keys are made by the server from letters, digits, `-` and `/`; anything else is refused so a
/// key can never climb out of the folder.
fn checked(key: &str) -> anyhow::Result<&str> {
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(key)
    } else {
        anyhow::bail!("not a media key: {key:?}")
    }
}

/// Media in a folder on this machine.
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    pub fn new(root: PathBuf) -> anyhow::Result<LocalDir> {
        std::fs::create_dir_all(&root)
            .with_context(|| format!("creating the media folder {}", root.display()))?;
        Ok(LocalDir { root })
    }

    fn path(&self, key: &str) -> anyhow::Result<PathBuf> {
        Ok(self.root.join(checked(key)?))
    }
}

/// Writes to a temporary file beside the target, fsyncs it, renames it into place and fsyncs
/// the directory, so a crash leaves either the whole file or none.
fn write_durably(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().context("a media path has a folder")?;
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("part");
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[async_trait::async_trait]
impl MediaStore for LocalDir {
    async fn put(&self, key: &str, data: Bytes) -> anyhow::Result<()> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || write_durably(&path, &data)).await??;
        Ok(())
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        // The per-media folder goes once empty; another size still in it keeps it.
        if let Some(dir) = path.parent()
            && dir != self.root
        {
            let _ = tokio::fs::remove_dir(dir).await;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("folder {}", self.root.display())
    }
}

/// Media in an S3-compatible bucket, through `object_store`.
pub struct S3 {
    store: object_store::aws::AmazonS3,
    bucket: String,
    endpoint: Option<String>,
}

impl S3 {
    /// From `BUCKET?endpoint=URL&region=R`; credentials from `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` (and the other usual `AWS_*` variables).
    fn new(rest: &str) -> anyhow::Result<S3> {
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        let bucket = bucket.trim_end_matches('/');
        if bucket.is_empty() {
            anyhow::bail!("MUTUAL_MEDIA_URL: s3:// needs a bucket name");
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        let mut endpoint = None;
        for (name, value) in serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .context("MUTUAL_MEDIA_URL: reading the query")?
        {
            match name.as_str() {
                "endpoint" => {
                    // A self-hosted store (SeaweedFS, MinIO, Garage) answers on its own host,
                    // often over plain http on a private network, with the bucket in the path.
                    builder = builder
                        .with_endpoint(&value)
                        .with_allow_http(value.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                    endpoint = Some(value);
                }
                "region" => builder = builder.with_region(value),
                other => anyhow::bail!("MUTUAL_MEDIA_URL: unknown setting {other:?}"),
            }
        }
        let store = builder
            .build()
            .context("MUTUAL_MEDIA_URL: the S3 settings")?;
        Ok(S3 {
            store,
            bucket: bucket.to_owned(),
            endpoint,
        })
    }
}

#[async_trait::async_trait]
impl MediaStore for S3 {
    async fn put(&self, key: &str, data: Bytes) -> anyhow::Result<()> {
        use object_store::ObjectStore;
        let path = object_store::path::Path::from(checked(key)?);
        self.store
            .put(&path, object_store::PutPayload::from(data))
            .await
            .with_context(|| format!("storing {key} in the media bucket"))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        use object_store::ObjectStore;
        let path = object_store::path::Path::from(checked(key)?);
        match self.store.get(&path).await {
            Ok(found) => Ok(Some(found.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        use object_store::ObjectStore;
        let path = object_store::path::Path::from(checked(key)?);
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn describe(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("bucket {} at {e}", self.bucket),
            None => format!("bucket {}", self.bucket),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_in_their_folder() {
        assert!(checked("m/abc-1/full").is_ok());
        assert!(checked("../etc/passwd").is_err());
        assert!(checked("/abs").is_err());
        assert!(checked("m//x").is_err());
        assert!(checked("m/a.b").is_err());
    }

    #[tokio::test]
    async fn a_folder_keeps_and_forgets() {
        let dir = std::env::temp_dir().join(format!("mutual-media-{}", std::process::id()));
        let store = LocalDir::new(dir.clone()).unwrap();
        store
            .put("m/x1/full", Bytes::from_static(b"abc"))
            .await
            .unwrap();
        assert_eq!(
            store.get("m/x1/full").await.unwrap().unwrap(),
            Bytes::from_static(b"abc")
        );
        store.delete("m/x1/full").await.unwrap();
        assert!(store.get("m/x1/full").await.unwrap().is_none());
        assert!(!dir.join("m/x1").exists());
        store.delete("m/x1/full").await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
}
