//! Where the store and the artifacts live: `--store` / `HONE_STORE_URI` and `--artifacts` /
//! `HONE_ARTIFACTS_URI`, defaulting to `./.hone/hone.db` and `./.hone/artifacts`.
//!
//! Store URIs are parsed here, once, for the CLI and [`open_store`](crate::open_store) alike: a
//! URI with an unknown scheme (`mysql://...`) is refused instead of being taken for a file path
//! (which would create a folder named `mysql:`).
// A parser of user input: no indexing that could panic (ARCHITECTURE.md, invariant 14).
#![warn(clippy::indexing_slicing)]

use std::path::PathBuf;

pub use crate::sqlite::Durability;
use crate::{Result, TrackError, printable};

/// The default store, beside the user's project.
pub const DEFAULT_STORE: &str = "sqlite://.hone/hone.db";

/// What a store URI may be, for messages.
const STORE_FORMS: &str = "use a path, sqlite:///path, file:///path, postgresql://…, \
                           postgres://… or a hone server's http(s)://host:port";

/// What an artifact location may be, for messages.
const ARTIFACT_FORMS: &str = "use a folder path, file:///path or s3://bucket/prefix";

/// Whether opening a store may create it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the database file, its folder and hone's schema when missing: for commands that
    /// record (train, tune, `experiments create`, `study create`).
    Create,
    /// The store must already hold hone's schema; nothing is created, neither file nor folder
    /// nor tables: for commands that read or change what is already recorded, so that a typo
    /// in `--store` is reported instead of leaving an empty store behind.
    MustExist,
}

/// A resolved store location.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// Store URI (`sqlite://...` or `postgresql://...`).
    pub store_uri: String,
    /// Artifact location: a folder, or `s3://bucket/prefix`.
    pub artifacts: String,
}

/// A store URI, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreTarget {
    /// A SQLite database file.
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Durability of commits (`?durability=process|power`).
        durability: Durability,
    },
    /// A `hone server` (`http://host:port`, `https://...`), which keeps the artifacts too.
    Server {
        /// The server's address.
        url: String,
    },
    /// A PostgreSQL database.
    Postgres {
        /// The connection URL, as the client takes it (scheme in lower case).
        url: String,
    },
}

/// The URI scheme of `s` (what comes before the first `:`, when that is a valid RFC 3986
/// scheme), in lower case, and the text after the `:`.
fn split_scheme(s: &str) -> Option<(String, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| (scheme.to_ascii_lowercase(), rest))
}

/// A URI for messages: control characters escaped and any password removed.
fn shown(uri: &str) -> String {
    printable(&crate::pg::redact(uri)).into_owned()
}

/// Parses a store URI; the error says what is wrong, without naming where the URI came from.
fn parse(uri: &str) -> std::result::Result<StoreTarget, String> {
    if uri.trim().is_empty() {
        return Err(format!("names no store; {STORE_FORMS}"));
    }
    let Some((scheme, rest)) = split_scheme(uri) else {
        return sqlite_target(uri);
    };
    let after_slashes = rest.strip_prefix("//");
    match (scheme.as_str(), after_slashes) {
        ("postgresql" | "postgres", Some(_)) => Ok(StoreTarget::Postgres {
            url: format!("{scheme}:{rest}"),
        }),
        // `file://` names a SQLite file exactly as `sqlite://` does (as `--artifacts` accepts
        // `file://` for a folder).
        ("sqlite" | "file", Some(path)) => sqlite_target(path),
        ("sqlite" | "file" | "postgresql" | "postgres", None) => {
            Err(format!("{scheme}: must be followed by //; {STORE_FORMS}"))
        }
        // A `hone server`: every call goes to it (see `crate::remote`).
        ("http" | "https", Some(_)) => Ok(StoreTarget::Server {
            url: uri.to_string(),
        }),
        (_, Some(_)) => Err(format!(
            "unsupported scheme {:?}; {STORE_FORMS}",
            printable(&scheme)
        )),
        // `name:with:colons.db` is a file name, not a URI.
        (_, None) => sqlite_target(uri),
    }
}

/// A SQLite file path with an optional `?durability=...` suffix.
fn sqlite_target(s: &str) -> std::result::Result<StoreTarget, String> {
    let (path, query) = match s.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (s, None),
    };
    if path.is_empty() {
        return Err(format!("names no file; {STORE_FORMS}"));
    }
    let durability = match query {
        None | Some("durability=process") => Durability::Process,
        Some("durability=power") => Durability::Power,
        Some(q) => {
            return Err(format!(
                "unknown store option {:?} (durability=process|power)",
                printable(q)
            ));
        }
    };
    Ok(StoreTarget::Sqlite {
        path: PathBuf::from(path),
        durability,
    })
}

/// Parses a store URI: a plain file path, `sqlite:///abs/path.db`, `sqlite://rel/path.db`
/// (`file://` alike), with an optional `?durability=process|power`, or
/// `postgresql://user@host:port/db` (also `postgres://`). Any other scheme is an error.
pub fn parse_store_uri(uri: &str) -> Result<StoreTarget> {
    parse(uri).map_err(|why| TrackError::Invalid(format!("store {}: {why}", shown(uri))))
}

/// Checks an artifact location: a folder path, `file://path` or `s3://bucket[/prefix]`;
/// returns it with its scheme in lower case, as the blob store expects it.
fn check_artifacts(uri: &str) -> std::result::Result<String, String> {
    if uri.trim().is_empty() {
        return Err(format!("names no location; {ARTIFACT_FORMS}"));
    }
    let Some((scheme, rest)) = split_scheme(uri) else {
        return Ok(uri.to_string());
    };
    let Some(after) = rest.strip_prefix("//") else {
        return Ok(uri.to_string());
    };
    match scheme.as_str() {
        "s3" if after.split('/').next().unwrap_or("").is_empty() => {
            Err(format!("names no bucket; {ARTIFACT_FORMS}"))
        }
        "file" if after.is_empty() => Err(format!("names no folder; {ARTIFACT_FORMS}")),
        "s3" | "file" => Ok(format!("{scheme}:{rest}")),
        _ => Err(format!(
            "unsupported scheme {:?}; {ARTIFACT_FORMS}",
            printable(&scheme)
        )),
    }
}

/// Resolves flags, then environment variables, then defaults. A bad URI is an error that
/// names where it came from (`--store`, `HONE_STORE_URI`, `--artifacts`,
/// `HONE_ARTIFACTS_URI`). Nothing is created.
pub fn resolve(store: Option<&str>, artifacts: Option<&str>) -> Result<Location> {
    let from_env = |name: &str| std::env::var(name).ok().filter(|s| !s.is_empty());
    let (store_uri, store_source) = match store {
        Some(s) => (s.to_string(), "--store"),
        None => match from_env("HONE_STORE_URI") {
            Some(s) => (s, "HONE_STORE_URI"),
            None => (DEFAULT_STORE.to_string(), "the default store"),
        },
    };
    let target = parse(&store_uri).map_err(|why| {
        TrackError::Invalid(format!("{store_source} {}: {why}", shown(&store_uri)))
    })?;
    let artifacts = match artifacts {
        Some(a) => Some((a.to_string(), "--artifacts")),
        None => from_env("HONE_ARTIFACTS_URI").map(|a| (a, "HONE_ARTIFACTS_URI")),
    };
    if let StoreTarget::Server { url } = &target {
        // The server keeps its own artifacts: a client never names (or reaches) them.
        if let Some((a, source)) = artifacts {
            return Err(TrackError::Invalid(format!(
                "{source} {}: a server's artifacts are where the server keeps them; drop it \
                 when the store is a server ({})",
                shown(&a),
                shown(url)
            )));
        }
        return Ok(Location {
            store_uri: url.clone(),
            artifacts: url.clone(),
        });
    }
    let artifacts = match artifacts {
        Some((a, source)) => check_artifacts(&a)
            .map_err(|why| TrackError::Invalid(format!("{source} {}: {why}", shown(&a))))?,
        None => match &target {
            StoreTarget::Sqlite { path, .. } => match path.parent() {
                Some(dir) => dir.join("artifacts").display().to_string(),
                None => ".hone/artifacts".to_string(),
            },
            StoreTarget::Postgres { .. } | StoreTarget::Server { .. } => {
                ".hone/artifacts".to_string()
            }
        },
    };
    Ok(Location {
        store_uri,
        artifacts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn artifacts_default_beside_the_database() {
        let l = resolve(Some("sqlite:///tmp/x/hone.db"), None).unwrap();
        assert_eq!(l.artifacts, "/tmp/x/artifacts");
        let l = resolve(Some("file:///tmp/y/hone.db?durability=power"), None).unwrap();
        assert_eq!(l.artifacts, "/tmp/y/artifacts");
        let l = resolve(Some("postgresql://u@h:5432/db"), Some("s3://bucket/p")).unwrap();
        assert_eq!(l.artifacts, "s3://bucket/p");
        assert!(resolve(Some("sqlite://a.db"), Some("ftp://x/p")).is_err());
    }

    #[test]
    fn store_uris() {
        let sqlite = |p: &str, durability| StoreTarget::Sqlite {
            path: PathBuf::from(p),
            durability,
        };
        let ok = |u: &str| parse_store_uri(u).unwrap();
        assert_eq!(ok("hone.db"), sqlite("hone.db", Durability::Process));
        assert_eq!(
            ok("sqlite:///a/b.db"),
            sqlite("/a/b.db", Durability::Process)
        );
        assert_eq!(ok("SQLITE://b.db"), sqlite("b.db", Durability::Process));
        assert_eq!(ok("file:///a/b.db"), sqlite("/a/b.db", Durability::Process));
        assert_eq!(
            ok("sqlite://b.db?durability=power"),
            sqlite("b.db", Durability::Power)
        );
        assert_eq!(
            ok("odd:name.db"),
            sqlite("odd:name.db", Durability::Process)
        );
        assert_eq!(
            ok("Postgres://u@h/db"),
            StoreTarget::Postgres {
                url: "postgres://u@h/db".into()
            }
        );
        for (bad, why) in [
            ("mysql://root@localhost/x", "unsupported scheme \"mysql\""),
            ("sqlite3:///tmp/x.db", "unsupported scheme \"sqlite3\""),
            ("sqlite:x.db", "must be followed by //"),
            ("sqlite://", "names no file"),
            ("", "names no store"),
            ("a.db?mode=fast", "unknown store option"),
        ] {
            let e = parse_store_uri(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(
                e.contains("sqlite:///path") || !why.starts_with("unsupported"),
                "{e}"
            );
        }
        assert_eq!(
            ok("http://127.0.0.1:5000"),
            StoreTarget::Server {
                url: "http://127.0.0.1:5000".into()
            }
        );
        let l = resolve(Some("https://hone.example:443"), None).unwrap();
        assert_eq!(l.artifacts, "https://hone.example:443");
        let e = resolve(Some("http://h:5000"), Some("/tmp/a"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--artifacts /tmp/a: a server's artifacts"),
            "{e}"
        );
        let e = parse_store_uri("mysql://root:hunter2@db/x")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn errors_name_the_flag() {
        let e = resolve(Some("mysql://h/x"), None).unwrap_err().to_string();
        assert!(
            e.starts_with("--store mysql://h/x: unsupported scheme"),
            "{e}"
        );
        let e = resolve(Some("x.db"), Some("ftp://h/x"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--artifacts ftp://h/x: unsupported scheme"),
            "{e}"
        );
        let e = resolve(Some("x.db"), Some("")).unwrap_err().to_string();
        assert!(e.starts_with("--artifacts : names no location"), "{e}");
        let e = resolve(Some("x.db"), Some("s3://"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("names no bucket"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any string parses or fails with a one-line message; it never panics.
        #[test]
        fn any_uri_parses_or_fails_in_one_line(uri in any::<String>()) {
            if let Err(e) = parse_store_uri(&uri) {
                prop_assert!(!e.to_string().contains('\n'));
            }
            if let Err(e) = resolve(Some(&uri), Some(&uri)) {
                prop_assert!(!e.to_string().contains('\n'));
            }
        }

        /// A URI with a scheme hone does not know is refused, never taken for a file path.
        #[test]
        fn unknown_schemes_are_never_paths(
            scheme in "[a-zA-Z][a-zA-Z0-9+.-]{0,10}",
            rest in any::<String>(),
        ) {
            let known = ["sqlite", "file", "postgres", "postgresql"];
            prop_assume!(!known.contains(&scheme.to_ascii_lowercase().as_str()));
            let uri = format!("{scheme}://{rest}");
            let e = parse_store_uri(&uri);
            prop_assert!(e.is_err(), "{uri:?} was accepted: {e:?}");
            let msg = e.unwrap_err().to_string();
            prop_assert!(msg.contains("unsupported scheme"), "{}", msg);
        }
    }
}
