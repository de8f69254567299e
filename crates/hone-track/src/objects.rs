//! Whole objects read from object storage (`s3://bucket/key`), for data files that workers
//! on other machines must all read: the one place outside [`crate::artifacts::BlobStore`] that
//! talks to object storage. Settings come from the same `AWS_*` variables as the blob store.

use std::path::{Path, PathBuf};

use object_store::ObjectStoreExt;

use crate::{Result, TrackError};

/// Splits `s3://bucket/key` into its bucket and key; errors name the URI.
pub fn parse_s3_uri(uri: &str) -> Result<(&str, &str)> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| TrackError::Invalid(format!("{uri:?} is not an s3:// URI")))?;
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') => {
            Ok((bucket, key))
        }
        _ => Err(TrackError::Invalid(format!(
            "{}: give s3://bucket/path/to/file.csv (or .parquet)",
            crate::printable(uri)
        ))),
    }
}

/// Reads the whole object at `uri` (`s3://bucket/key`).
pub fn read_object(uri: &str) -> Result<Vec<u8>> {
    let (bucket, key) = parse_s3_uri(uri)?;
    let io = |e: &dyn std::fmt::Display| TrackError::Io {
        path: uri.to_string(),
        message: e.to_string(),
    };
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .map_err(|e| io(&e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| io(&e))?;
    let path = object_store::path::Path::from(key);
    runtime.block_on(async {
        let got = store.get(&path).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => io(&"no such object"),
            e => io(&e),
        })?;
        let bytes = got.bytes().await.map_err(|e| io(&e))?;
        Ok(bytes.to_vec())
    })
}

/// Reads the object at `uri` into a file of folder `dir` named by its content's SHA-256 and
/// the key's extension (so readers that dispatch on the extension work), written atomically;
/// returns the file. An identical copy already there is reused.
pub fn fetch_to_dir(uri: &str, dir: &Path) -> Result<PathBuf> {
    let bytes = read_object(uri)?;
    let (_, key) = parse_s3_uri(uri)?;
    let ext = Path::new(key)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("bin");
    let sha = crate::artifacts::sha256_hex(&bytes);
    let file = dir.join(format!("{sha}.{ext}"));
    if file.is_file() {
        return Ok(file);
    }
    let io = |e: std::io::Error| TrackError::Io {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(".{sha}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(io)?;
    std::fs::rename(&tmp, &file).map_err(io)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    #[test]
    fn uris_name_bucket_and_key() {
        assert_eq!(
            super::parse_s3_uri("s3://b/data/x.csv").unwrap(),
            ("b", "data/x.csv")
        );
        for bad in ["s3://", "s3://b", "s3://b/", "s3:///k", "http://b/k"] {
            assert!(super::parse_s3_uri(bad).is_err(), "{bad}");
        }
    }
}
