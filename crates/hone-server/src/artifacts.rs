//! The `mlflow-artifacts` proxy: upload (`PUT`), download (`GET`), list (`GET ?path=`) and
//! delete (`DELETE`) under `/api/2.0/mlflow-artifacts/artifacts/` (and `/ajax-api/...`).
//!
//! A run's artifact URI is `mlflow-artifacts:/<experiment_id>/<run_id>/artifacts`, so every
//! path here is `<experiment_id>/<run_id>/artifacts[/<path inside the run>]`, or, for an
//! MLflow 3 logged model, `<experiment_id>/models/<model_id>/artifacts[/<path>]` (its
//! records are the model's; the model must exist, not be deleted, and be in that experiment). Artifacts are
//! hone's: the bytes go to the content-addressed [`BlobStore`] (named by their SHA-256), the
//! path to an [`ArtifactRecord`] row of the run. **Nothing is ever read or written at a
//! filesystem path a client gave**: a client path only selects a record, whose SHA-256 names
//! the blob, so a path that slipped through the checks below could at worst name another
//! record of the same run. The checks are there anyway (MLflow's CVE history, spec §8): a path
//! is percent-decoded until it no longer changes (at most [`MAX_DECODE_ROUNDS`] rounds) and
//! refused with 400 when it has `..`, `.` or empty segments, is absolute (`/x`, `C:\`, `C:/`,
//! `\\server`), has a drive letter, a backslash, a control character (NUL), `#` or `;`.
//!
//! Uploads are buffered in memory, at most [`MAX_ARTIFACT_BYTES`] each (the blob store takes
//! whole contents); larger ones get 413. Re-uploading a path replaces its record (a retry is
//! idempotent). Deleting removes the run's record(s), never a blob: `hone gc` frees
//! blobs no record refers to. A blob whose checksum does not verify is a 500 with a generic
//! message, never served.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hone_track::artifacts::{BlobStore, validate_artifact_path};
use hone_track::{ArtifactRecord, Backend, Lifecycle};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::{AppState, blocking};

/// The largest artifact upload (1 GiB), buffered in memory; larger ones get 413.
pub const MAX_ARTIFACT_BYTES: usize = 1024 * 1024 * 1024;

/// At most this many rounds of percent-decoding; a path still encoded after them is refused.
pub const MAX_DECODE_ROUNDS: usize = 10;

/// The URL prefixes of the proxy's artifact routes.
pub const PREFIXES: [&str; 2] = [
    "/api/2.0/mlflow-artifacts/artifacts",
    "/ajax-api/2.0/mlflow-artifacts/artifacts",
];

fn invalid_path() -> ApiError {
    ApiError::invalid("Invalid path")
}

/// One round of percent-decoding (`%XX` → byte; anything else kept as is).
fn percent_decode_once(s: &str) -> Result<String, ApiError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(0));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid_path())
}

/// Percent-decodes `raw` until it no longer changes, refusing one still changing after
/// [`MAX_DECODE_ROUNDS`] rounds.
pub fn decode_path(raw: &str) -> Result<String, ApiError> {
    let mut current = raw.to_string();
    // Rounds 1..=MAX_DECODE_ROUNDS decode; one more only checks that nothing is left.
    for _ in 0..=MAX_DECODE_ROUNDS {
        let next = percent_decode_once(&current)?;
        if next == current {
            return Ok(current);
        }
        current = next;
    }
    Err(invalid_path())
}

/// Checks a decoded artifact path (see the module's documentation); `allow_empty` for the
/// root of a listing.
pub fn check_path(path: &str, allow_empty: bool) -> Result<(), ApiError> {
    if path.is_empty() {
        return if allow_empty {
            Ok(())
        } else {
            Err(invalid_path())
        };
    }
    let bad_char = |c: char| c.is_control() || matches!(c, '\\' | '#' | ';' | '%');
    let b = path.as_bytes();
    let drive = |seg: &str| {
        let s = seg.as_bytes();
        s.len() >= 2 && s[0].is_ascii_alphabetic() && s[1] == b':'
    };
    if path.starts_with('/') || path.chars().any(bad_char) || b.len() > 4096 {
        return Err(invalid_path());
    }
    for seg in path.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." || drive(seg) {
            return Err(invalid_path());
        }
    }
    Ok(())
}

/// Whose artifacts a proxy path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A run: `<experiment_id>/<run_id>/artifacts/...`.
    Run(String),
    /// An MLflow 3 logged model: `<experiment_id>/models/<model_id>/artifacts/...`.
    Model(String),
}

/// Where a proxy path points: a run's or a logged model's artifacts and a path inside them
/// (empty: the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The experiment named in the path.
    pub experiment_id: String,
    /// The run or logged model.
    pub owner: Owner,
    /// The artifact path inside the run or model (`""` for the root).
    pub path: String,
}

impl Target {
    /// The run's or model's id (what blob errors name).
    fn owner_id(&self) -> &str {
        match &self.owner {
            Owner::Run(id) | Owner::Model(id) => id,
        }
    }
}

/// Decodes, checks and splits `<experiment_id>/<run_id>/artifacts[/<path>]` or
/// `<experiment_id>/models/<model_id>/artifacts[/<path>]`.
pub fn parse_target(raw: &str, allow_root: bool) -> Result<Target, ApiError> {
    let decoded = decode_path(raw)?;
    check_path(&decoded, false)?;
    let shape = || {
        ApiError::invalid(
            "artifact paths are <experiment_id>/<run_id>/artifacts/<path> or \
             <experiment_id>/models/<model_id>/artifacts/<path>",
        )
    };
    let mut parts = decoded.splitn(5, '/');
    let (Some(experiment_id), Some(second)) = (parts.next(), parts.next()) else {
        return Err(shape());
    };
    let owner = if second == "models" {
        // Run ids are 32 hex digits, so a run can never be called `models`.
        let id = parts.next().ok_or_else(shape)?;
        if !crate::logged_models::is_model_id(id) {
            return Err(ApiError::not_found(format!(
                "logged model {} not found",
                hone_track::printable(id)
            )));
        }
        Owner::Model(id.to_string())
    } else {
        Owner::Run(second.to_string())
    };
    if parts.next() != Some("artifacts") {
        return Err(shape());
    }
    let path = match &owner {
        // The run form splits in four: its path is everything after `artifacts`.
        Owner::Run(_) => decoded
            .splitn(4, '/')
            .nth(3)
            .unwrap_or_default()
            .to_string(),
        Owner::Model(_) => parts.next().unwrap_or_default().to_string(),
    };
    if path.is_empty() && !allow_root {
        return Err(invalid_path());
    }
    if !path.is_empty() {
        // The store's own rule too (it refuses, e.g., paths over 1024 characters).
        validate_artifact_path(&path).map_err(|_| invalid_path())?;
    }
    Ok(Target {
        experiment_id: experiment_id.to_string(),
        owner,
        path,
    })
}

/// The raw (still percent-encoded) path after the route prefix, without its leading `/`.
fn raw_path(uri: &Uri) -> Result<&str, ApiError> {
    let full = uri.path();
    PREFIXES
        .iter()
        .find_map(|p| full.strip_prefix(p))
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(invalid_path)
}

/// Checks that the run or logged model exists and is in the experiment the path names;
/// returns whether it is deleted (a deleted logged model is not found at all, as in MLflow).
fn check_owner(st: &dyn Backend, t: &Target) -> Result<bool, ApiError> {
    let (kind, experiment_id, deleted) = match &t.owner {
        Owner::Run(id) => {
            let run = st.get_run(id)?;
            (
                "run",
                run.info.experiment_id,
                run.info.lifecycle == Lifecycle::Deleted,
            )
        }
        Owner::Model(id) => (
            "logged model",
            st.get_logged_model(id)?.experiment_id,
            false,
        ),
    };
    if experiment_id != t.experiment_id {
        return Err(ApiError::invalid(format!(
            "{kind} {} is not in experiment {}",
            t.owner_id(),
            hone_track::printable(&t.experiment_id)
        )));
    }
    Ok(deleted)
}

/// The run's or model's artifact records.
fn records(st: &dyn Backend, t: &Target) -> Result<Vec<ArtifactRecord>, ApiError> {
    Ok(match &t.owner {
        Owner::Run(id) => st.list_artifacts(id)?,
        Owner::Model(id) => st.list_logged_model_artifacts(id)?,
    })
}

/// Removes the run's or model's record of `path`.
fn delete_record(st: &dyn Backend, t: &Target, path: &str) -> Result<(), ApiError> {
    match &t.owner {
        Owner::Run(id) => st.delete_artifact(id, path)?,
        Owner::Model(id) => st.delete_logged_model_artifact(id, path)?,
    };
    Ok(())
}

fn no_such_artifact() -> ApiError {
    ApiError::not_found("No such artifact")
}

/// `PUT .../artifacts/<exp>/<run>/artifacts/<path>` with the raw bytes → 200, empty body.
pub async fn upload(
    State(s): State<AppState>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = parse_target(raw_path(&uri)?, false)?;
    let blobs = s.blobs.clone();
    let leases = std::sync::Arc::clone(&s.leases);
    blocking(&s, "artifacts.upload", move |st| {
        // Refused before any byte is stored (the store would refuse the record anyway).
        if check_owner(st, &t)? {
            return Err(ApiError::invalid(format!(
                "run {} is deleted; restore it before logging to it",
                t.owner_id()
            )));
        }
        let (sha256, size) = put(&blobs, &body)?;
        let record = ArtifactRecord {
            path: t.path.clone(),
            sha256,
            size,
        };
        match &t.owner {
            Owner::Run(id) => {
                st.record_artifact(id, &record)?;
                leases.renew(st, id)?;
            }
            Owner::Model(id) => st.record_logged_model_artifact(id, &record)?,
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

fn put(blobs: &BlobStore, bytes: &[u8]) -> Result<(String, i64), ApiError> {
    Ok(blobs.put(bytes)?)
}

/// `GET .../artifacts/<exp>/<run>/artifacts/<path>` → the bytes (`application/octet-stream`),
/// verified against their SHA-256 first; 404 when the run has no artifact there.
pub async fn download(State(s): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let t = parse_target(raw_path(&uri)?, false)?;
    let blobs = s.blobs.clone();
    let (sha, bytes) = blocking(&s, "artifacts.download", move |st| {
        check_owner(st, &t)?;
        let record = records(st, &t)?
            .into_iter()
            .find(|r| r.path == t.path)
            .ok_or_else(no_such_artifact)?;
        // A blob that does not verify is TrackError::Corrupted: a 500 with a generic message.
        let bytes = blobs.get(&record.sha256, t.owner_id(), &record.path)?;
        Ok((record.sha256, bytes))
    })
    .await?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{sha}\"")) {
        h.insert(header::ETAG, etag);
    }
    Ok(response)
}

/// The entries directly under `dir` (`""`: the root) of a run's records: (name, size for a
/// file, `None` for a directory), by name. A `dir` that is a file lists nothing (MLflow
/// answers `{}`, which the client reads as "a file").
pub fn entries(records: &[ArtifactRecord], dir: &str) -> Vec<(String, Option<i64>)> {
    let mut out: std::collections::BTreeMap<String, Option<i64>> = Default::default();
    for r in records {
        let rest = if dir.is_empty() {
            Some(r.path.as_str())
        } else {
            r.path
                .strip_prefix(dir)
                .and_then(|rest| rest.strip_prefix('/'))
        };
        let Some(rest) = rest else { continue };
        match rest.split_once('/') {
            Some((sub, _)) => {
                out.insert(sub.to_string(), None);
            }
            None => {
                out.entry(rest.to_string()).or_insert(Some(r.size));
            }
        }
    }
    out.into_iter().collect()
}

/// `GET .../artifacts?path=<exp>/<run>/artifacts[/<dir>]` (or
/// `<exp>/models/<model_id>/artifacts[/<dir>]`) → `{files: [{path, is_dir,
/// file_size}]}`, `path` being the entry's name; directories come from the recorded paths.
pub async fn list(State(s): State<AppState>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let mut raw = None;
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        if k == "path" {
            if raw.is_some() {
                return Err(ApiError::invalid("path given twice"));
            }
            raw = Some(v.into_owned());
        }
    }
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Err(ApiError::invalid(
            "list a run's artifacts: path=<experiment_id>/<run_id>/artifacts[/<dir>]",
        ));
    };
    let t = parse_target(&raw, true)?;
    let listed = blocking(&s, "artifacts.list", move |st| {
        check_owner(st, &t)?;
        Ok(entries(&records(st, &t)?, &t.path))
    })
    .await?;
    let files: Vec<Value> = listed
        .into_iter()
        .map(|(name, size)| match size {
            Some(n) => json!({"path": name, "is_dir": false, "file_size": n}),
            None => json!({"path": name, "is_dir": true}),
        })
        .collect();
    let mut out = Map::new();
    if !files.is_empty() {
        out.insert("files".into(), Value::Array(files));
    }
    Ok(Json(Value::Object(out)))
}

/// `DELETE .../artifacts/<exp>/<run>/artifacts/<path>` → `{}`: removes the run's record of
/// that file, or of every file under that directory; 404 when there is none. Blobs stay
/// (`hone gc` frees unreferenced ones).
pub async fn delete(State(s): State<AppState>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let t = parse_target(raw_path(&uri)?, false)?;
    blocking(&s, "artifacts.delete", move |st| {
        check_owner(st, &t)?;
        let under = format!("{}/", t.path);
        let doomed: Vec<String> = records(st, &t)?
            .into_iter()
            .map(|r| r.path)
            .filter(|p| *p == t.path || p.starts_with(&under))
            .collect();
        if doomed.is_empty() {
            return Err(no_such_artifact());
        }
        for p in doomed {
            delete_record(st, &t, &p)?;
        }
        Ok(())
    })
    .await?;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decoded_until_stable_and_checked() {
        assert_eq!(decode_path("a%252e%252e%252fb").unwrap(), "a../b");
        assert_eq!(decode_path("plain/path.txt").unwrap(), "plain/path.txt");
        let deep = (0..12).fold("..".to_string(), |s, _| {
            s.replace('%', "%25").replace('.', "%2e")
        });
        assert!(decode_path(&deep).is_err());
        for bad in [
            "..",
            "a/../b",
            "/etc/passwd",
            "C:\\x",
            "C:/x",
            "\\\\server\\s",
            "a\\b",
            "a\0b",
            "a#b",
            "a;b",
            "a//b",
            "./a",
            "a/",
            "x/c:/y",
        ] {
            assert!(check_path(bad, false).is_err(), "{bad:?} accepted");
        }
        check_path("a..b/c.txt", false).unwrap();
    }

    #[test]
    fn targets_split_into_experiment_run_and_path() {
        let t = parse_target("1/abc/artifacts/docs/a.txt", false).unwrap();
        assert_eq!(
            (t.experiment_id.as_str(), &t.owner, t.path.as_str()),
            ("1", &Owner::Run("abc".into()), "docs/a.txt")
        );
        assert_eq!(parse_target("1/abc/artifacts", true).unwrap().path, "");
        assert!(parse_target("1/abc/artifacts", false).is_err());
        assert!(parse_target("1/abc/artifacts/%2e%2e/x", false).is_err());
        let id = "m-0123456789abcdef0123456789abcdef";
        let t = parse_target(&format!("1/models/{id}/artifacts/data/model.lgb"), false).unwrap();
        assert_eq!(
            (t.experiment_id.as_str(), &t.owner, t.path.as_str()),
            ("1", &Owner::Model(id.into()), "data/model.lgb")
        );
        assert_eq!(
            parse_target(&format!("1/models/{id}/artifacts"), true)
                .unwrap()
                .path,
            ""
        );
        for bad in [
            "1/models/m/artifacts/x".to_string(),
            "1/models".into(),
            format!("1/models/{id}"),
            format!("1/models/{id}/other/x"),
            format!("1/models/{id}/artifacts/%252e%252e/x"),
            format!("1/models/{id}/artifacts/a\\b"),
            format!("1/models/{id}/artifacts/C:/x"),
        ] {
            assert!(parse_target(&bad, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn listings_synthesize_directories() {
        let rec = |p: &str, n| ArtifactRecord {
            path: p.into(),
            sha256: String::new(),
            size: n,
        };
        let all = [rec("a.txt", 1), rec("d/b.txt", 2), rec("d/e/c.txt", 3)];
        assert_eq!(
            entries(&all, ""),
            vec![("a.txt".into(), Some(1)), ("d".into(), None)]
        );
        assert_eq!(
            entries(&all, "d"),
            vec![("b.txt".into(), Some(2)), ("e".into(), None)]
        );
        assert!(entries(&all, "a.txt").is_empty());
        assert!(entries(&all, "nope").is_empty());
    }
}
