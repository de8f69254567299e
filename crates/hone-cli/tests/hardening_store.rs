//! Store URIs, opening stores, run lookups and terminal escapes, as a user meets them: bad
//! input is one line on stderr naming the flag, file or run, with exit code 2, and leaves
//! nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hone_track::store::{Batch, NewRun};
use hone_track::{RunStatus, open_store};
use serde_json::Value;

/// Runs `hone` in `dir` with no store settings from the environment, plus `env`.
fn hone_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hone"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("HONE_STORE_URI")
        .env_remove("HONE_ARTIFACTS_URI");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn hone(dir: &Path, args: &[&str]) -> Output {
    hone_env(dir, args, &[])
}

/// Asserts exit code `code` and a one-line error on stderr that contains every `needle`;
/// returns the line.
fn one_line_error(o: &Output, code: i32, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    for n in needles {
        assert!(err.contains(n), "{err:?} does not mention {n:?}");
    }
    assert!(o.stdout.is_empty(), "partial output: {:?}", o.stdout);
    err
}

/// Everything under `dir`, recursively (to prove a command created nothing).
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(tree(&p));
        }
        out.push(p);
    }
    out.sort();
    out
}

#[test]
fn unknown_store_schemes_are_refused_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for uri in [
        "mysql://root@localhost/x",
        "sqlite3:///tmp/hone-hardening-never/x.db",
        "sqlite3://rel/x.db",
        "MySQL://root:secret@h/x",
        "ftp://host/x.db",
    ] {
        // A command that records, and one that reads: neither may take the URI for a path.
        for args in [
            vec!["experiments", "create", "e", "--store", uri],
            vec!["experiments", "list", "--store", uri],
            vec!["runs", "list", "--experiment", "e", "--store", uri],
        ] {
            let e = one_line_error(
                &hone(d, &args),
                2,
                &[
                    "--store",
                    "unsupported scheme",
                    "sqlite:///path",
                    "postgresql://",
                ],
            );
            assert!(!e.contains("secret"), "password shown: {e}");
        }
    }
    // The scheme without `//`, and an empty URI.
    one_line_error(
        &hone(d, &["experiments", "create", "e", "--store", "sqlite:x.db"]),
        2,
        &["--store", "sqlite:"],
    );
    one_line_error(
        &hone(d, &["experiments", "create", "e", "--store", ""]),
        2,
        &["--store", "names no store"],
    );
    // The same from the environment names the variable.
    one_line_error(
        &hone_env(
            d,
            &["experiments", "create", "e"],
            &[("HONE_STORE_URI", "mysql://root@localhost/x")],
        ),
        2,
        &["HONE_STORE_URI", "unsupported scheme \"mysql\""],
    );
    // Artifact locations: flag and variable.
    one_line_error(
        &hone(
            d,
            &[
                "experiments",
                "create",
                "e",
                "--store",
                "s/hone.db",
                "--artifacts",
                "ftp://h/x",
            ],
        ),
        2,
        &["--artifacts", "unsupported scheme \"ftp\"", "s3://"],
    );
    one_line_error(
        &hone_env(
            d,
            &["experiments", "create", "e", "--store", "s/hone.db"],
            &[("HONE_ARTIFACTS_URI", "gs://bucket/x")],
        ),
        2,
        &["HONE_ARTIFACTS_URI", "unsupported scheme \"gs\""],
    );
    assert!(!Path::new("/tmp/hone-hardening-never").exists());
    assert_eq!(tree(d), Vec::<PathBuf>::new(), "something was created");
}

#[test]
fn file_uris_name_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("s/hone.db");
    let file_uri = format!("file://{}", db.display());
    let o = hone(d, &["experiments", "create", "e", "--store", &file_uri]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(db.is_file());
    // Only the database (and SQLite's WAL files, should they linger): no `file:` folder.
    let made: Vec<PathBuf> = tree(d)
        .into_iter()
        .filter(|p| {
            !p.to_string_lossy().ends_with("-wal") && !p.to_string_lossy().ends_with("-shm")
        })
        .collect();
    assert_eq!(made, vec![d.join("s"), db.clone()]);
    let sqlite_uri = format!("sqlite://{}", db.display());
    let o = hone(
        d,
        &["experiments", "list", "--json", "--store", &sqlite_uri],
    );
    let list: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list["items"][0]["name"], "e");
}

#[test]
fn read_only_commands_never_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let commands: &[&[&str]] = &[
        &["experiments", "list"],
        &["experiments", "rename", "a", "b"],
        &["experiments", "delete", "a"],
        &["runs", "list", "--experiment", "e"],
        &["runs", "show", "abc"],
        &["runs", "search", "--experiment", "e"],
        &["runs", "compare", "a", "b"],
        &["runs", "delete", "a"],
        &["runs", "restore", "a"],
        &["runs", "reap"],
        &["runs", "purge"],
        &["artifacts", "list", "abc"],
        &["artifacts", "get", "abc", "model.json"],
        &["artifacts", "verify"],
        &["gc"],
        &["compare", "a", "b"],
        &["study", "trials", "--name", "s"],
        &["study", "best", "--name", "s"],
        &["study", "ask", "--name", "s"],
    ];
    for args in commands {
        // The default store (./.hone/hone.db) and an explicit one in a folder that does not exist.
        one_line_error(
            &hone(d, args),
            2,
            &[
                "store .hone/hone.db does not exist",
                "nothing has been tracked",
            ],
        );
        let mut with_store = args.to_vec();
        with_store.extend(["--store", "sqlite://deep/folder/hone.db"]);
        one_line_error(
            &hone(d, &with_store),
            2,
            &["deep/folder/hone.db does not exist"],
        );
    }
    // `evaluate` with something that is neither a model folder nor a run in a store.
    one_line_error(
        &hone(d, &["evaluate", "abc", "--data", "x.csv"]),
        2,
        &["abc", "neither a model directory nor a tracked run"],
    );
    assert_eq!(tree(d), Vec::<PathBuf>::new(), "something was created");
}

/// A SQLite database (page size 512, two pages) with one table, `runs(run_id TEXT)`: another
/// program's database, built byte by byte because the tests have no SQLite of their own.
fn foreign_sqlite_bytes() -> Vec<u8> {
    let mut b = vec![0u8; 1024];
    let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, b"SQLite format 3\0\x02\x00\x01\x01\x00\x40\x20\x20");
    put(27, &[1]); // change counter
    put(31, &[2]); // pages
    put(43, &[1]); // schema cookie
    put(47, &[4]); // schema format
    put(59, &[1]); // UTF-8
    put(95, &[1, 0, 0x2e, 0x63, 1]); // version-valid-for, SQLite version
    put(100, &[0x0d, 0, 0, 0, 1, 1, 0xcc, 0, 1, 0xcc]); // leaf page, one cell at 460
    put(
        460,
        b"\x32\x01\x06\x17\x15\x15\x01\x49tablerunsruns\x02CREATE TABLE runs(run_id TEXT)",
    );
    put(512, &[0x0d, 0, 0, 0, 0, 2]); // page 2: the empty table
    b
}

#[test]
fn files_that_are_not_hone_stores_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let foreign = d.join("other.db");
    std::fs::write(&foreign, foreign_sqlite_bytes()).unwrap();
    let mut noise = Vec::with_capacity(4096);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..4096 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        noise.push((x >> 56) as u8);
    }
    std::fs::write(d.join("noise.db"), &noise).unwrap();
    std::fs::write(d.join("notes.txt"), "just some text\nover two lines\n").unwrap();
    let before: Vec<(PathBuf, Vec<u8>)> = tree(d)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    for args in [
        vec!["experiments", "list"],
        vec!["experiments", "create", "e"],
        vec!["runs", "show", "abc"],
    ] {
        let mut a = args.clone();
        a.extend(["--store", "other.db"]);
        one_line_error(
            &hone(d, &a),
            2,
            &["other.db: not a hone store (it has tables but no hone schema version)"],
        );
        for file in ["noise.db", "notes.txt"] {
            let mut a = args.clone();
            a.extend(["--store", file]);
            one_line_error(
                &hone(d, &a),
                2,
                &[file, "not a hone store (not a SQLite database)"],
            );
        }
    }
    // A folder given as the store.
    std::fs::create_dir(d.join("folder")).unwrap();
    one_line_error(
        &hone(d, &["experiments", "create", "e", "--store", "folder"]),
        2,
        &["folder is a folder", "folder/hone.db"],
    );
    std::fs::remove_dir(d.join("folder")).unwrap();
    let after: Vec<(PathBuf, Vec<u8>)> = tree(d)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    assert!(
        before == after,
        "a refused file was changed or a file was created"
    );
}

/// A store in `d/s/hone.db` with one experiment; returns its URI.
fn new_store(d: &Path) -> String {
    let uri = format!("sqlite://{}", d.join("s/hone.db").display());
    let o = hone(d, &["experiments", "create", "e", "--store", &uri]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    uri
}

#[test]
fn missing_run_ids_are_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let uri = new_store(d);
    let store = open_store(&uri).unwrap();
    let exp = store.get_experiment_by_name("e").unwrap().unwrap();
    let real = store
        .create_run(NewRun {
            experiment_id: exp.experiment_id,
            ..Default::default()
        })
        .unwrap();
    store.end_run(&real.run_id, RunStatus::Finished).unwrap();
    drop(store);
    let real = real.run_id.as_str();
    let commands: &[&[&str]] = &[
        &["runs", "show", "deadbeef"],
        &["runs", "compare", real, "deadbeef"],
        &["runs", "delete", "deadbeef"],
        &["runs", "restore", "deadbeef"],
        &["artifacts", "list", "deadbeef"],
        &["artifacts", "get", "deadbeef", "model.json"],
        &["artifacts", "verify", "deadbeef"],
        &["compare", "deadbeef", real],
    ];
    for args in commands {
        let mut a = args.to_vec();
        a.extend(["--store", &uri]);
        let e = one_line_error(&hone(d, &a), 2, &["run deadbeef not found"]);
        assert!(!e.contains("has no artifact"), "{e}");
    }
}

#[test]
fn names_with_terminal_controls_are_escaped_except_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let uri = new_store(d);
    let evil = "evil\x1b[2J\x07\nname\r\u{9b}31m\u{202e}";
    let shown = "evil\\x1b[2J\\x07\\nname\\r\\x9b31m\\u{202e}";
    let store = open_store(&uri).unwrap();
    store.create_experiment(evil, &[]).unwrap();
    let exp = store.get_experiment_by_name(evil).unwrap().unwrap();
    let run = store
        .create_run(NewRun {
            experiment_id: exp.experiment_id,
            name: Some(evil.to_string()),
            ..Default::default()
        })
        .unwrap();
    store
        .log_batches(&[Batch {
            run_id: run.run_id.clone(),
            params: vec![("p".to_string(), evil.to_string())],
            tags: vec![("t".to_string(), evil.to_string())],
            ..Default::default()
        }])
        .unwrap();
    store.end_run(&run.run_id, RunStatus::Finished).unwrap();
    drop(store);
    let out = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--store", &uri]);
        let o = hone(d, &a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let human = [
        (out(&["experiments", "list"]), 3),
        (out(&["runs", "list", "--experiment", evil]), 1),
        (out(&["runs", "search", "--experiment", evil]), 1),
        (out(&["runs", "show", &run.run_id]), 0),
    ];
    for (text, lines) in &human {
        assert!(text.contains(shown), "not escaped: {text:?}");
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
            "raw control characters: {text:?}"
        );
        if *lines > 0 {
            // A header and two experiments, or one run: no row was split by a newline.
            assert_eq!(text.lines().count(), *lines, "{text:?}");
        }
    }
    // `runs compare` cuts cells to 22 characters, after escaping.
    let table = out(&["runs", "compare", &run.run_id, &run.run_id]);
    assert!(table.contains("evil\\x1b[2J\\x07\\nname"), "{table:?}");
    assert!(
        !table
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}')
    );
    let list: Value = serde_json::from_str(&out(&["experiments", "list", "--json"])).unwrap();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == evil)
    );
    let runs: Value =
        serde_json::from_str(&out(&["runs", "list", "--experiment", evil, "--json"])).unwrap();
    assert_eq!(runs["items"][0]["info"]["run_name"], evil);
}
