//! Content-addressed artifact blobs.
//!
//! A blob lives at `<root>/blobs/<first two hex>/<sha256>`; identical files are stored once.
//! Writes go to a temporary file that is renamed into place, so a blob is never half-written.
//! Every read recomputes the SHA-256 and refuses content that does not match.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

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

/// The local blob store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

fn io(path: &Path, e: std::io::Error) -> TrackError {
    TrackError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl BlobStore {
    /// A blob store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, sha: &str) -> PathBuf {
        self.root.join("blobs").join(&sha[..2]).join(sha)
    }

    /// Stores bytes; returns (sha256, size). Existing identical content is not written again.
    pub fn put(&self, bytes: &[u8]) -> Result<(String, i64)> {
        let sha = sha256_hex(bytes);
        let dest = self.blob_path(&sha);
        if !dest.exists() {
            let dir = dest.parent().expect("blob paths have a parent");
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            let tmp = dir.join(format!(".{sha}.{}.tmp", std::process::id()));
            let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
            f.write_all(bytes).map_err(|e| io(&tmp, e))?;
            f.sync_all().map_err(|e| io(&tmp, e))?;
            std::fs::rename(&tmp, &dest).map_err(|e| io(&dest, e))?;
        }
        Ok((sha, bytes.len() as i64))
    }

    /// Reads a blob and checks it against `sha`.
    pub fn get(&self, sha: &str, run_id: &str, logical: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(sha);
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| io(&path, e))?;
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

    /// Every blob on disk: (sha256, size in bytes, age in seconds).
    pub fn list(&self) -> Result<Vec<(String, u64, u64)>> {
        let mut out = Vec::new();
        let dir = self.root.join("blobs");
        let Ok(shards) = std::fs::read_dir(&dir) else {
            return Ok(out);
        };
        for shard in shards.flatten() {
            for entry in std::fs::read_dir(shard.path())
                .map_err(|e| io(&shard.path(), e))?
                .flatten()
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
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
        Ok(out)
    }

    /// Deletes a blob.
    pub fn remove(&self, sha: &str) -> Result<()> {
        let p = self.blob_path(sha);
        std::fs::remove_file(&p).map_err(|e| io(&p, e))
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
}
