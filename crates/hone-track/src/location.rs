//! Where the store and the artifacts live: `--store` / `HONE_STORE_URI` and `--artifacts` /
//! `HONE_ARTIFACTS_URI`, defaulting to `./.hone/hone.db` and `./.hone/artifacts`.

use std::path::PathBuf;

use crate::{Result, TrackError};

/// The default store, beside the user's project.
pub const DEFAULT_STORE: &str = "sqlite://.hone/hone.db";

/// A resolved store location.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// Store URI (`sqlite://...` or `postgresql://...`).
    pub store_uri: String,
    /// Artifact location: a folder, or `s3://bucket/prefix`.
    pub artifacts: String,
}

/// Resolves flags, then environment variables, then defaults.
pub fn resolve(store: Option<&str>, artifacts: Option<&str>) -> Result<Location> {
    let store_uri = store
        .map(str::to_string)
        .or_else(|| {
            std::env::var("HONE_STORE_URI")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_STORE.to_string());
    let artifacts = artifacts.map(str::to_string).or_else(|| {
        std::env::var("HONE_ARTIFACTS_URI")
            .ok()
            .filter(|s| !s.is_empty())
    });
    let artifacts = match artifacts {
        Some(a) if a.contains("://") && !a.starts_with("s3://") && !a.starts_with("file://") => {
            return Err(TrackError::Invalid(format!(
                "artifact location {a:?}: use a folder path, file://path or s3://bucket/prefix"
            )));
        }
        Some(a) => a,
        None => {
            let sqlite = store_uri
                .split('?')
                .next()
                .unwrap_or("")
                .strip_prefix("sqlite://")
                .map(PathBuf::from)
                .or_else(|| (!store_uri.contains("://")).then(|| PathBuf::from(&store_uri)));
            match sqlite.as_ref().and_then(|p| p.parent()) {
                Some(dir) => dir.join("artifacts").display().to_string(),
                None => ".hone/artifacts".to_string(),
            }
        }
    };
    Ok(Location {
        store_uri,
        artifacts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_default_beside_the_database() {
        let l = resolve(Some("sqlite:///tmp/x/hone.db"), None).unwrap();
        assert_eq!(l.artifacts, "/tmp/x/artifacts");
        let l = resolve(Some("postgresql://u@h:5432/db"), Some("s3://bucket/p")).unwrap();
        assert_eq!(l.artifacts, "s3://bucket/p");
        assert!(resolve(Some("sqlite://a.db"), Some("ftp://x/p")).is_err());
    }
}
