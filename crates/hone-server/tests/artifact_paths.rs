//! Path security of the `mlflow-artifacts` proxy (spec §8: MLflow's path-traversal CVEs):
//! every attack pattern, raw and single- and double-percent-encoded, against upload,
//! download, list and delete: all refused with a 4xx, and nothing written (the run's records
//! and the blob store are unchanged, no new file anywhere under the server's folder).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::TestServer;

const ART: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// The attacks, as a client would put them in the artifact path.
const ATTACKS: [&str; 16] = [
    "..%2f..%2f..%2fetc/passwd",
    "%252e%252e%252f%252e%252e%252fetc/passwd",
    "%2e%2e/%2e%2e/x.txt",
    "../../x.txt",
    "docs/../../../x.txt",
    "..\\..\\x.txt",
    "/etc/passwd",
    "C:\\x",
    "C:/x",
    "\\\\server\\share\\x",
    "a%00b",
    "a#b",
    "a;b",
    "a//b",
    "./a",
    "docs/c:/x",
];

/// Percent-encodes every byte but ASCII letters and digits.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An attack as sent: raw (when it can be sent raw in a request target), single- and
/// double-encoded, and deeper than the server decodes.
fn variants(attack: &str) -> Vec<String> {
    let mut out = Vec::new();
    // A raw `#` would start a URL fragment, which a client never sends.
    if !attack.contains('#') {
        out.push(attack.to_string());
    }
    let once = encode(attack);
    let twice = once.replace('%', "%25");
    let deep = (0..11).fold(once.clone(), |s, _| s.replace('%', "%25"));
    out.extend([once, twice, deep]);
    out
}

/// Every file under `dir` (relative paths), SQLite's journal files aside.
fn files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                if !rel.ends_with("-wal") && !rel.ends_with("-shm") && !rel.ends_with("-journal") {
                    out.insert(rel);
                }
            }
        }
    }
    out
}

#[test]
fn traversal_and_encoded_paths_are_refused_and_write_nothing() {
    let s = TestServer::start();
    let (exp, run) = s.new_run("e");
    let base = format!("{exp}/{run}/artifacts");
    // One legitimate artifact, so that a refused request has something to reach.
    let ok = s.send(
        "PUT",
        &format!("{ART}/{base}/docs/a.txt"),
        &[("Content-Type", "text/plain")],
        Some(b"legit"),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let store = hone_track::open_store(&s.uri).unwrap();
    let records = || store.list_artifacts(&run).unwrap();
    let before = records();
    let root = s.artifacts.parent().unwrap().to_path_buf();
    let files_before = files(&root);

    let mut sent = 0;
    let (mut uploads, mut invalid_path) = (0, 0);
    for attack in ATTACKS {
        for v in variants(attack) {
            // Inside the run's artifacts, and in place of the whole path.
            for path in [format!("{base}/{v}"), v.clone()] {
                let target = format!("{ART}/{path}");
                let up = s.send(
                    "PUT",
                    &target,
                    &[("Content-Type", "application/octet-stream")],
                    Some(b"pwned"),
                );
                let down = s.get(&target);
                let del = s.send("DELETE", &target, &[], None);
                let listed = s.get(&format!("{ART}?path={}", path.replace('#', "%23")));
                for (what, r) in [
                    ("upload", &up),
                    ("download", &down),
                    ("delete", &del),
                    ("list", &listed),
                ] {
                    assert!(
                        (400..500).contains(&r.status),
                        "{what} of {path:?} (attack {attack:?}): {} {}",
                        r.status,
                        r.body
                    );
                    assert!(!r.body.contains("pwned") && !r.body.contains("legit"));
                }
                // What reaches the handlers is refused as MLflow does: 400 "Invalid path"
                // (an unknown experiment/run segment is a 400 or 404 of its own).
                if up.status == 400 && up.header("content-type") == Some("application/json") {
                    assert_eq!(up.json()["error_code"], "INVALID_PARAMETER_VALUE");
                    if up.json()["message"] == "Invalid path" {
                        invalid_path += 1;
                    }
                } else {
                    eprintln!("upload of {path:?}: {} {}", up.status, up.body);
                }
                uploads += 1;
                sent += 4;
            }
        }
    }
    assert!(sent > 200, "{sent} requests");
    // Every one reached the proxy's checks (none was stopped earlier by the HTTP parser or
    // the router), and they refused it.
    assert_eq!(invalid_path, uploads, "uploads refused as \"Invalid path\"");
    assert_eq!(records(), before, "the run's records changed");
    assert_eq!(
        hone_track::artifacts::BlobStore::new(&s.artifacts)
            .list()
            .unwrap()
            .len(),
        1,
        "a blob was written"
    );
    assert_eq!(files(&root), files_before, "a file was written");
    // The legitimate artifact is intact.
    assert_eq!(s.get(&format!("{ART}/{base}/docs/a.txt")).body, "legit");
}

#[test]
fn each_pattern_inside_the_run_is_an_invalid_path() {
    // Sent inside a valid run path (single- and double-encoded, so the HTTP layer passes
    // them on), every pattern reaches the proxy and gets MLflow's 400 "Invalid path".
    let s = TestServer::start();
    let (exp, run) = s.new_run("e");
    for attack in ATTACKS {
        let once = encode(attack);
        for v in [once.clone(), once.replace('%', "%25")] {
            let target = format!("{ART}/{exp}/{run}/artifacts/{v}");
            let r = s.send(
                "PUT",
                &target,
                &[("Content-Type", "text/plain")],
                Some(b"x"),
            );
            r.assert_error(400, "INVALID_PARAMETER_VALUE");
            assert_eq!(r.json()["message"], "Invalid path", "{attack:?}");
            s.get(&target).assert_error(400, "INVALID_PARAMETER_VALUE");
            s.get(&format!("{ART}?path={exp}/{run}/artifacts/{v}"))
                .assert_error(400, "INVALID_PARAMETER_VALUE");
            s.send("DELETE", &target, &[], None)
                .assert_error(400, "INVALID_PARAMETER_VALUE");
        }
    }
}

#[test]
fn a_path_encoded_deeper_than_ten_rounds_is_refused() {
    let s = TestServer::start();
    let (exp, run) = s.new_run("e");
    // A harmless name, still encoded after ten rounds: refused all the same.
    let deep = (0..11).fold("%41".to_string(), |s, _| s.replace('%', "%25"));
    let r = s.send(
        "PUT",
        &format!("{ART}/{exp}/{run}/artifacts/{deep}"),
        &[("Content-Type", "text/plain")],
        Some(b"x"),
    );
    r.assert_error(400, "INVALID_PARAMETER_VALUE");
    // Ten rounds are decoded.
    let ten = (0..9).fold("%41".to_string(), |s, _| s.replace('%', "%25"));
    let r = s.send(
        "PUT",
        &format!("{ART}/{exp}/{run}/artifacts/{ten}"),
        &[("Content-Type", "text/plain")],
        Some(b"x"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.get(&format!("{ART}/{exp}/{run}/artifacts/A")).body, "x");
}
