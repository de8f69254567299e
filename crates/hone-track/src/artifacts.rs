//! Content-addressed artifact blobs, in a local folder or an object store (S3).
//!
//! A blob lives at `<root>/blobs/<first two hex>/<sha256>`; identical files are stored once.
//! Local writes go to a temporary file that is renamed into place, so a blob is never
//! half-written; object stores write whole objects. Every read recomputes the SHA-256 and
//! refuses content that does not match.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use crate::{Result, TrackError};

/// Checks a logical artifact path: relative, `/`-separated, no `..`, no absolute or drive
/// prefixes, no backslashes, control characters or percent-encoded escapes.
pub fn validate_artifact_path(path: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(TrackError::Invalid(format!(
            "invalid artifact path {path:?}: {why}"
        )))
    };
    if path.is_empty() {
        return bad("empty");
    }
    if path.len() > 1024 {
        return bad("longer than 1024 characters");
    }
    if path.starts_with('/') || path.starts_with('~') {
        return bad("must be relative");
    }
    if path.contains('\\') {
        return bad("backslashes are not allowed");
    }
    if path.chars().any(|c| c.is_control()) {
        return bad("control characters are not allowed");
    }
    if path.contains('%') {
        return bad("percent-encoded characters are not allowed");
    }
    let b = path.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return bad("drive letters are not allowed");
    }
    for seg in path.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return bad("empty, '.' and '..' segments are not allowed");
        }
    }
    Ok(())
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where blobs live: a local (or shared) folder, an object store (S3 and compatible), or a
/// `hone server` that keeps them in one of those.
#[derive(Clone)]
enum Backend {
    Local(PathBuf),
    Remote(crate::remote::RemoteBlobs),
    Object {
        store: Arc<dyn ObjectStore>,
        prefix: String,
        runtime: Arc<tokio::runtime::Runtime>,
        uri: String,
    },
}

/// The content-addressed blob store.
#[derive(Clone)]
pub struct BlobStore {
    backend: Backend,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn io(path: &Path, e: std::io::Error) -> TrackError {
    TrackError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// What a blob store behind a server refuses: housekeeping is done where the blobs are.
fn not_through_a_server(r: &crate::remote::RemoteBlobs, what: &str) -> TrackError {
    TrackError::Invalid(format!(
        "{what} is not done through a server ({}): run `hone gc` where the server's store and \
         artifacts are",
        r.base()
    ))
}

fn object_err(uri: &str, e: impl std::fmt::Display) -> TrackError {
    TrackError::Io {
        path: uri.to_string(),
        message: e.to_string(),
    }
}

impl BlobStore {
    /// A blob store rooted at a local folder (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            backend: Backend::Local(root.into()),
        }
    }

    /// A blob store from a URI: a folder path (or `file://path`), `s3://bucket[/prefix]`, or
    /// a `hone server`'s `http(s)://host:port` (its blobs, through it).
    /// S3 credentials, region and endpoint come from the usual `AWS_*` environment variables
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT` for
    /// S3-compatible servers, `AWS_ALLOW_HTTP=true` for plain-HTTP endpoints).
    pub fn open(uri: &str) -> Result<Self> {
        let lower = uri.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Ok(Self {
                backend: Backend::Remote(crate::remote::RemoteBlobs::connect(uri)?),
            });
        }
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(TrackError::Invalid(format!(
                    "artifact URI {uri:?} names no bucket"
                )));
            }
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| object_err(uri, e))?;
            return Self::from_object_store(Arc::new(store), prefix, uri);
        }
        if uri.contains("://") && !uri.starts_with("file://") {
            return Err(TrackError::Invalid(format!(
                "artifact URI {uri:?}: use a folder path, file://path or s3://bucket/prefix"
            )));
        }
        Ok(Self::new(uri.strip_prefix("file://").unwrap_or(uri)))
    }

    /// A blob store over any `object_store` implementation (S3, in-memory, ...), under `prefix`.
    pub fn from_object_store(store: Arc<dyn ObjectStore>, prefix: &str, uri: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| object_err(uri, e))?;
        Ok(Self {
            backend: Backend::Object {
                store,
                prefix: prefix.trim_matches('/').to_string(),
                runtime: Arc::new(runtime),
                uri: uri.to_string(),
            },
        })
    }

    /// Where the blobs are, for messages.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local(root) => root.display().to_string(),
            Backend::Object { uri, .. } => uri.clone(),
            Backend::Remote(r) => r.base().to_string(),
        }
    }

    fn blob_path(&self, sha: &str) -> PathBuf {
        match &self.backend {
            Backend::Local(root) => root.join("blobs").join(&sha[..2]).join(sha),
            Backend::Object { .. } | Backend::Remote(_) => PathBuf::from(self.object_key(sha)),
        }
    }

    fn object_key(&self, sha: &str) -> String {
        let prefix = match &self.backend {
            Backend::Object { prefix, .. } if !prefix.is_empty() => format!("{prefix}/"),
            _ => String::new(),
        };
        format!("{prefix}blobs/{}/{sha}", &sha[..2])
    }

    /// Stores bytes; returns (sha256, size). Existing identical content is not written again.
    pub fn put(&self, bytes: &[u8]) -> Result<(String, i64)> {
        if let Backend::Remote(r) = &self.backend {
            return r.put(bytes);
        }
        let sha = sha256_hex(bytes);
        match &self.backend {
            Backend::Remote(_) => unreachable!("answered above"),
            Backend::Local(_) => {
                let dest = self.blob_path(&sha);
                if !dest.exists() {
                    let dir = dest.parent().expect("blob paths have a parent");
                    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
                    // One temporary file per write, also between threads of one process (a
                    // server storing the same bytes twice at once), so that two writers never
                    // share one; the rename makes either's identical copy the blob.
                    static WRITES: std::sync::atomic::AtomicU64 =
                        std::sync::atomic::AtomicU64::new(0);
                    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let tmp = dir.join(format!(".{sha}.{}.{n}.tmp", std::process::id()));
                    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
                    f.write_all(bytes).map_err(|e| io(&tmp, e))?;
                    f.sync_all().map_err(|e| io(&tmp, e))?;
                    if let Err(e) = std::fs::rename(&tmp, &dest) {
                        let _ = std::fs::remove_file(&tmp);
                        // Where a rename does not replace a file, another writer's identical
                        // copy is already in place.
                        if !dest.exists() {
                            return Err(io(&dest, e));
                        }
                    }
                }
            }
            Backend::Object {
                store,
                runtime,
                uri,
                ..
            } => {
                let key = ObjectPath::from(self.object_key(&sha));
                runtime.block_on(async {
                    // Create-if-absent (S3's `If-None-Match: *`): a blob is written once; a
                    // second writer of the same bytes (another worker, a retried job) finds
                    // it there and writes nothing, and an existing object is never replaced.
                    let opts = object_store::PutOptions {
                        mode: object_store::PutMode::Create,
                        ..Default::default()
                    };
                    match store
                        .put_opts(&key, PutPayload::from(bytes.to_vec()), opts)
                        .await
                    {
                        Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
                        // Stores without conditional writes: fall back to look, then write.
                        Err(object_store::Error::NotImplemented { .. }) => {
                            if store.head(&key).await.is_err() {
                                store
                                    .put(&key, PutPayload::from(bytes.to_vec()))
                                    .await
                                    .map_err(|e| object_err(uri, e))?;
                            }
                            Ok(())
                        }
                        Err(e) => Err(object_err(uri, e)),
                    }
                })?;
            }
        }
        Ok((sha, bytes.len() as i64))
    }

    /// Reads a blob and checks it against `sha`. `run_id` names the run (or logged model)
    /// that records it at `logical`: for messages, and for a server, which serves a blob only
    /// to a caller who may read that owner and only when the owner records it there.
    pub fn get(&self, sha: &str, run_id: &str, logical: &str) -> Result<Vec<u8>> {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TrackError::Invalid(format!(
                "{sha:?} is not a SHA-256 address"
            )));
        }
        let bytes = match &self.backend {
            Backend::Remote(r) => r.get(sha, run_id, logical)?,
            Backend::Local(_) => {
                let path = self.blob_path(sha);
                let mut bytes = Vec::new();
                std::fs::File::open(&path)
                    .and_then(|mut f| f.read_to_end(&mut bytes))
                    .map_err(|e| io(&path, e))?;
                bytes
            }
            Backend::Object {
                store,
                runtime,
                uri,
                ..
            } => {
                let key = ObjectPath::from(self.object_key(sha));
                runtime.block_on(async {
                    let got = store.get(&key).await.map_err(|e| object_err(uri, e))?;
                    got.bytes()
                        .await
                        .map(|b| b.to_vec())
                        .map_err(|e| object_err(uri, e))
                })?
            }
        };
        let actual = sha256_hex(&bytes);
        if actual != sha {
            return Err(TrackError::Corrupted {
                run_id: run_id.to_string(),
                path: logical.to_string(),
                expected: sha.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Every blob: (sha256, size in bytes, age in seconds).
    pub fn list(&self) -> Result<Vec<(String, u64, u64)>> {
        let is_sha = |name: &str| name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        let mut out = Vec::new();
        match &self.backend {
            Backend::Remote(r) => return Err(not_through_a_server(r, "listing blobs")),
            Backend::Local(root) => {
                let dir = root.join("blobs");
                let Ok(shards) = std::fs::read_dir(&dir) else {
                    return Ok(out);
                };
                for shard in shards.flatten() {
                    for entry in std::fs::read_dir(shard.path())
                        .map_err(|e| io(&shard.path(), e))?
                        .flatten()
                    {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if is_sha(&name) {
                            let meta = entry.metadata().ok();
                            let size = meta.as_ref().map_or(0, |m| m.len());
                            let age = meta
                                .and_then(|m| m.modified().ok())
                                .and_then(|t| t.elapsed().ok())
                                .map_or(0, |d| d.as_secs());
                            out.push((name, size, age));
                        }
                    }
                }
            }
            Backend::Object {
                store,
                prefix,
                runtime,
                uri,
            } => {
                let base = if prefix.is_empty() {
                    ObjectPath::from("blobs")
                } else {
                    ObjectPath::from(format!("{prefix}/blobs"))
                };
                let metas: Vec<object_store::ObjectMeta> = runtime
                    .block_on(store.list(Some(&base)).try_collect())
                    .map_err(|e| object_err(uri, e))?;
                let now = crate::now_ms() / 1000;
                for m in metas {
                    let name = m.location.filename().unwrap_or_default().to_string();
                    if is_sha(&name) {
                        let age = (now - m.last_modified.timestamp()).max(0) as u64;
                        out.push((name, m.size, age));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Deletes a blob.
    pub fn remove(&self, sha: &str) -> Result<()> {
        match &self.backend {
            Backend::Remote(r) => Err(not_through_a_server(r, "removing blobs")),
            Backend::Local(_) => {
                let p = self.blob_path(sha);
                std::fs::remove_file(&p).map_err(|e| io(&p, e))
            }
            Backend::Object {
                store,
                runtime,
                uri,
                ..
            } => {
                let key = ObjectPath::from(self.object_key(sha));
                runtime
                    .block_on(store.delete(&key))
                    .map_err(|e| object_err(uri, e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_encoded_escapes_are_refused() {
        for bad in [
            "../x",
            "a/../../etc/passwd",
            "/etc/passwd",
            "C:/Windows",
            "c:x",
            "a\\b",
            "..\\..\\x",
            "%2e%2e/x",
            "a/%2F/b",
            "a//b",
            "./a",
            "a/.",
            "",
            "~/x",
            "a\u{0}b",
        ] {
            assert!(validate_artifact_path(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "model.txt",
            "pipeline/pipeline.json",
            "fold-1/curve.csv",
            "a..b/c",
        ] {
            validate_artifact_path(good).unwrap();
        }
    }

    #[test]
    fn identical_content_is_stored_once_and_corruption_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path());
        let (a, n) = store.put(b"hello").unwrap();
        let (b, _) = store.put(b"hello").unwrap();
        assert_eq!((a.as_str(), n), (b.as_str(), 5));
        assert_eq!(
            a,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(store.list().unwrap().len(), 1);
        assert_eq!(store.get(&a, "r", "x.txt").unwrap(), b"hello");
        std::fs::write(store.blob_path(&a), b"hellO").unwrap();
        let e = store.get(&a, "r1", "x.txt").unwrap_err().to_string();
        assert!(e.contains("artifact x.txt of run r1 is corrupted"), "{e}");
    }

    #[test]
    fn concurrent_writes_of_the_same_bytes_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path());
        let bytes = vec![7u8; 1 << 20];
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| store.put(&bytes))).collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
        assert_eq!(store.list().unwrap().len(), 1);
        let shard = dir.path().join("blobs").join(&sha256_hex(&bytes)[..2]);
        assert_eq!(
            std::fs::read_dir(shard).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn object_store_backend_behaves_like_the_folder() {
        let mem: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let store =
            BlobStore::from_object_store(mem.clone(), "team/hone", "memory://team/hone").unwrap();
        let (a, _) = store.put(b"hello").unwrap();
        store.put(b"hello").unwrap();
        store.put(b"other").unwrap();
        assert_eq!(store.list().unwrap().len(), 2);
        assert_eq!(store.get(&a, "r", "x").unwrap(), b"hello");
        // Tamper with the object behind the store's back: the read refuses it.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let key = ObjectPath::from(format!("team/hone/blobs/{}/{a}", &a[..2]));
        rt.block_on(mem.put(&key, PutPayload::from(b"hellO".to_vec())))
            .unwrap();
        assert!(matches!(
            store.get(&a, "r", "x"),
            Err(TrackError::Corrupted { .. })
        ));
        store.remove(&a).unwrap();
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(BlobStore::open("ftp://x").is_err());
        assert!(BlobStore::open("s3://").is_err());
    }
}
