//! The model registry under real OS processes, on both backends: concurrent registrations,
//! concurrent promotions and rollbacks, and `kill -9` in the middle of promotions.
//!
//! The test binary re-runs itself (`current_exe() --exact child`) with `HONE_TEST_CHILD_ROLE`
//! and the store's URI in its environment; [`child`] does one role and returns at once when the
//! variable is absent (a normal run of the suite). Children only open the parent's store: they
//! never start a PostgreSQL cluster of their own. A child reports on stdout in lines holding
//! [`MARK`] (libtest's own lines are ignored).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use hone_track::store::NewRun;
use hone_track::{AuditEntry, Backend, Stage, TrackError, Transition, open_store};

/// What a child does (absent: not a child).
const ROLE: &str = "HONE_TEST_CHILD_ROLE";
/// The store the child opens.
const URI: &str = "HONE_TEST_STORE_URI";
/// The file whose appearance starts a race.
const GO: &str = "HONE_TEST_GO_FILE";
/// The run a registering child registers from.
const RUN: &str = "HONE_TEST_RUN_ID";
/// The version a promoting child moves to production.
const VERSION: &str = "HONE_TEST_VERSION";
/// The production version a promoting child expects.
const EXPECTED: &str = "HONE_TEST_EXPECTED";
/// Marks a child's report on its stdout.
const MARK: &str = "@@hone-child@@ ";
/// The registered model every test uses.
const MODEL: &str = "m";
/// How long the parent waits for any one report of a child.
const PATIENCE: Duration = Duration::from_secs(30);

/// A store under test: its URI, and for SQLite the file (and the folder that keeps it).
struct Target {
    backend: &'static str,
    uri: String,
    sqlite_file: Option<PathBuf>,
    /// The store's folder for SQLite, and where the go files live for both.
    dir: tempfile::TempDir,
}

impl Target {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hone.db");
        Self {
            backend: "sqlite",
            uri: format!("sqlite://{}", file.display()),
            sqlite_file: Some(file),
            dir,
        }
    }

    fn postgres() -> Self {
        Self {
            backend: "postgres",
            uri: hone_test_support::shared_cluster().fresh_database(),
            sqlite_file: None,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A fresh connection (the parent holds none while children work).
    fn open(&self) -> Box<dyn Backend> {
        open_store(&self.uri).unwrap()
    }

    fn go_file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

use hone_test_support::on_both_backends;

on_both_backends!(
    eight_processes_registering_at_once_get_one_to_eight,
    concurrent_promotions_in_processes_have_one_winner,
    a_rollback_race_between_processes_has_one_winner,
    kill_9_during_promotions_leaves_one_production,
);

// ---------------------------------------------------------------------------------------------
// The child side.

/// The children's entry point: does nothing in a normal run of the suite.
#[test]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("child without {k}"));
    let num = |k: &str| -> u32 { env(k).parse().unwrap() };
    let store = open_store(&env(URI)).unwrap();
    match role.as_str() {
        "register" => {
            wait_for_go(&env(GO));
            let v = store
                .create_model_version(&hone_track::NewModelVersion::from_run(
                    MODEL,
                    &env(RUN),
                    None,
                    &[],
                ))
                .unwrap();
            report(&format!("version {}", v.version));
        }
        "promote" => {
            wait_for_go(&env(GO));
            let r = store.transition_stage(&promote(
                num(VERSION),
                Stage::Production,
                Some(num(EXPECTED)),
            ));
            match r {
                Ok(v) => {
                    assert_eq!(v.current_stage, Stage::Production);
                    report("ok");
                }
                Err(TrackError::Conflict(_)) => report("conflict"),
                Err(e) => panic!("expected success or a conflict, got {e}"),
            }
        }
        "flip" => {
            // Back to back, no pause: most of the time is spent inside a transaction.
            let mut flips = 0u64;
            loop {
                let current = store
                    .get_model_version_by_alias(MODEL, "production")
                    .unwrap()
                    .version;
                let other = if current == 1 { 2 } else { 1 };
                store
                    .transition_stage(&promote(other, Stage::Production, Some(current)))
                    .unwrap();
                flips += 1;
                if flips == 1 {
                    report("ready");
                }
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

/// Tells the parent `msg` on stdout.
fn report(msg: &str) {
    println!("\n{MARK}{msg}");
}

/// Says "ready", then spins until the go file exists, so that every child starts at once.
fn wait_for_go(path: &str) {
    report("ready");
    let start = Instant::now();
    while !Path::new(path).exists() {
        assert!(start.elapsed() < PATIENCE, "no go signal at {path}");
        std::thread::yield_now();
    }
}

fn promote(version: u32, to: Stage, expected: Option<u32>) -> Transition<'static> {
    Transition {
        name: MODEL,
        version,
        to,
        expected_current_production: expected,
        archive_existing: false,
        user: "ana",
        reason: "process test",
        details: "",
    }
}

// ---------------------------------------------------------------------------------------------
// The parent side.

/// A child process and the reports it prints; killed and reaped when dropped.
struct Kid {
    child: Child,
    reports: Receiver<String>,
}

impl Kid {
    fn spawn(t: &Target, role: &str, env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env(URI, &t.uri)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, reports) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if let Some((_, msg)) = line.split_once(MARK)
                    && tx.send(msg.trim().to_string()).is_err()
                {
                    break;
                }
            }
        });
        Self { child, reports }
    }

    /// The child's next report.
    fn next(&self) -> String {
        self.reports
            .recv_timeout(PATIENCE)
            .expect("the child reported nothing (see its stderr above)")
    }

    /// Waits for the child to exit, and checks that it succeeded.
    fn finish(mut self) {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "child failed: {status}");
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts one child per `env`, waits until each is ready, then lets them all go at once and
/// returns their one report each.
fn race(t: &Target, go: &str, role: &str, envs: Vec<Vec<(&str, String)>>) -> Vec<String> {
    let go = t.go_file(go);
    let kids: Vec<Kid> = envs
        .into_iter()
        .map(|mut env| {
            env.push((GO, go.display().to_string()));
            Kid::spawn(t, role, &env)
        })
        .collect();
    for k in &kids {
        assert_eq!(k.next(), "ready");
    }
    std::fs::write(&go, b"go").unwrap();
    let reports: Vec<String> = kids.iter().map(Kid::next).collect();
    for k in kids {
        k.finish();
    }
    reports
}

fn source_run(store: &dyn Backend) -> String {
    let exp = store.get_or_create_experiment("registry").unwrap();
    store
        .create_run(NewRun {
            experiment_id: exp,
            name: Some("fit".into()),
            user_id: Some("tester".into()),
            ..Default::default()
        })
        .unwrap()
        .run_id
}

/// A model with `n` versions, all in development.
fn model_with_versions(store: &dyn Backend, n: u32) {
    let run = source_run(store);
    store.create_registered_model(MODEL, "", &[]).unwrap();
    for _ in 0..n {
        store
            .create_model_version(&hone_track::NewModelVersion::from_run(
                MODEL,
                &run,
                None,
                &[],
            ))
            .unwrap();
    }
}

fn move_to(store: &dyn Backend, version: u32, to: Stage, expected: Option<u32>) {
    store
        .transition_stage(&promote(version, to, expected))
        .unwrap();
}

fn last_audit_id(store: &dyn Backend) -> i64 {
    store.audit_log(MODEL).unwrap().last().map_or(0, |e| e.id)
}

/// Version 1 promoted, then replaced by version 2: production 2, version 1 deprecated. Returns
/// the id of the last audit entry written.
fn two_productions(t: &Target) -> i64 {
    use Stage::*;
    let store = t.open();
    let store = store.as_ref();
    model_with_versions(store, 2);
    move_to(store, 1, Staging, None);
    move_to(store, 1, Production, None);
    move_to(store, 2, Staging, Some(1));
    move_to(store, 2, Production, Some(1));
    assert_eq!(stage_of(store, 1), Deprecated);
    last_audit_id(store)
}

/// The audit entries written after entry `after`.
fn audit_after(store: &dyn Backend, after: i64) -> Vec<AuditEntry> {
    store
        .audit_log(MODEL)
        .unwrap()
        .into_iter()
        .filter(|e| e.id > after)
        .collect()
}

fn stage_of(store: &dyn Backend, version: u32) -> Stage {
    store
        .get_model_version(MODEL, version)
        .unwrap()
        .current_stage
}

/// The versions in production, from the versions themselves.
fn productions(store: &dyn Backend) -> Vec<u32> {
    store
        .list_model_versions(MODEL)
        .unwrap()
        .into_iter()
        .filter(|v| v.current_stage == Stage::Production)
        .map(|v| v.version)
        .collect()
}

fn production_alias(store: &dyn Backend) -> Option<u32> {
    store
        .get_model_version_by_alias(MODEL, "production")
        .ok()
        .map(|v| v.version)
}

/// An audit entry's action, version, from and to.
type EntryShape<'a> = (&'a str, Option<u32>, Option<&'a str>, Option<&'a str>);

/// Checks that `entries` are exactly one promotion of `promoted` (from `from`) displacing
/// `displaced` to deprecated, with the production alias moved along, all in one transaction.
fn assert_one_promotion(entries: &[AuditEntry], promoted: u32, from: Stage, displaced: u32) {
    let shape: Vec<EntryShape<'_>> = entries
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.version,
                e.from.as_deref(),
                e.to.as_deref(),
            )
        })
        .collect();
    let (p, d) = (promoted.to_string(), displaced.to_string());
    assert_eq!(
        shape,
        [
            (
                "transition_stage",
                Some(promoted),
                Some(from.as_str()),
                Some("Production")
            ),
            (
                "transition_stage",
                Some(displaced),
                Some("Production"),
                Some("Deprecated")
            ),
            (
                "set_alias",
                Some(promoted),
                Some(d.as_str()),
                Some(p.as_str())
            ),
        ],
        "{entries:#?}"
    );
    assert_eq!(entries[2].reason, "production");
    assert!(
        entries.iter().all(|e| e.time == entries[0].time),
        "{entries:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The tests.

fn eight_processes_registering_at_once_get_one_to_eight(t: &Target) {
    let run = {
        let store = t.open();
        let run = source_run(store.as_ref());
        store.create_registered_model(MODEL, "", &[]).unwrap();
        run
    };
    let reports = race(
        t,
        "go-register",
        "register",
        (0..8).map(|_| vec![(RUN, run.clone())]).collect(),
    );
    let mut got: Vec<u32> = reports
        .iter()
        .map(|r| {
            r.strip_prefix("version ")
                .unwrap_or_else(|| panic!("unexpected report {r:?}"))
                .parse()
                .unwrap()
        })
        .collect();
    got.sort();
    assert_eq!(got, (1..=8).collect::<Vec<u32>>(), "{reports:?}");
    let store = t.open();
    let listed: Vec<u32> = store
        .list_model_versions(MODEL)
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, (1..=8).collect::<Vec<u32>>());
    let mut created: Vec<u32> = store
        .audit_log(MODEL)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "create_version")
        .map(|e| e.version.unwrap())
        .collect();
    created.sort();
    assert_eq!(created, (1..=8).collect::<Vec<u32>>());
}

fn concurrent_promotions_in_processes_have_one_winner(t: &Target) {
    use Stage::*;
    let before = {
        let store = t.open();
        let store = store.as_ref();
        model_with_versions(store, 5);
        move_to(store, 1, Staging, None);
        move_to(store, 1, Production, None);
        for v in 2..=5 {
            move_to(store, v, Staging, Some(1));
        }
        last_audit_id(store)
    };
    let contenders = [2u32, 3, 4, 5];
    let reports = race(
        t,
        "go-promote",
        "promote",
        contenders
            .iter()
            .map(|v| vec![(VERSION, v.to_string()), (EXPECTED, "1".to_string())])
            .collect(),
    );
    let winners: Vec<u32> = contenders
        .iter()
        .zip(&reports)
        .filter(|(_, r)| r.as_str() == "ok")
        .map(|(v, _)| *v)
        .collect();
    assert_eq!(winners.len(), 1, "{reports:?}");
    assert_eq!(
        reports.iter().filter(|r| r.as_str() == "conflict").count(),
        contenders.len() - 1,
        "{reports:?}"
    );
    let winner = winners[0];
    let store = t.open();
    let store = store.as_ref();
    assert_eq!(productions(store), [winner]);
    assert_eq!(production_alias(store), Some(winner));
    assert_eq!(stage_of(store, 1), Deprecated);
    for v in contenders.into_iter().filter(|v| *v != winner) {
        assert_eq!(stage_of(store, v), Staging);
    }
    assert_one_promotion(&audit_after(store, before), winner, Staging, 1);
}

fn a_rollback_race_between_processes_has_one_winner(t: &Target) {
    use Stage::*;
    // Production P = 2, its predecessor D = 1 deprecated.
    let before = two_productions(t);
    let reports = race(
        t,
        "go-rollback",
        "promote",
        (0..4)
            .map(|_| vec![(VERSION, "1".to_string()), (EXPECTED, "2".to_string())])
            .collect(),
    );
    assert_eq!(
        reports.iter().filter(|r| r.as_str() == "ok").count(),
        1,
        "{reports:?}"
    );
    assert_eq!(
        reports.iter().filter(|r| r.as_str() == "conflict").count(),
        3,
        "{reports:?}"
    );
    let store = t.open();
    let store = store.as_ref();
    assert_eq!(productions(store), [1]);
    assert_eq!(production_alias(store), Some(1));
    assert_eq!(stage_of(store, 2), Deprecated);
    assert_one_promotion(&audit_after(store, before), 1, Deprecated, 2);
}

/// Kill rounds, and the spread of the kills after the child's first flip.
const ROUNDS: u64 = 20;
const FIRST_KILL_MS: u64 = 5;
const LAST_KILL_MS: u64 = 200;

fn kill_9_during_promotions_leaves_one_production(t: &Target) {
    // Production 2, deprecated 1; the child flips them back and forth.
    let before = two_productions(t);
    let mut promotions_so_far = 0;
    for round in 0..ROUNDS {
        // Deterministic, but not monotonic: offsets spread over the whole range.
        let k = (round * 7) % ROUNDS;
        let offset = FIRST_KILL_MS + (LAST_KILL_MS - FIRST_KILL_MS) * k / (ROUNDS - 1);
        let mut kid = Kid::spawn(t, "flip", &[]);
        assert_eq!(kid.next(), "ready");
        std::thread::sleep(Duration::from_millis(offset));
        // SIGKILL on Unix.
        kid.child.kill().unwrap();
        let status = kid.child.wait().unwrap();
        assert!(
            !status.success(),
            "the flipping child exited by itself: {status}"
        );
        drop(kid);
        wait_until_store_is_idle(t);
        let promotions = check_after_kill(t, before);
        eprintln!(
            "{} round {round}: killed {offset} ms after the first flip, {} flips committed",
            t.backend,
            promotions - promotions_so_far
        );
        assert!(promotions > promotions_so_far);
        promotions_so_far = promotions;
    }
}

/// After a kill: on PostgreSQL, waits until the server has ended the dead child's session (a
/// COMMIT it sent just before dying may still land until then); on SQLite, checks that the
/// file (and its write-ahead log) is sound.
fn wait_until_store_is_idle(t: &Target) {
    if let Some(file) = &t.sqlite_file {
        let c = rusqlite::Connection::open(file).unwrap();
        let check: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        return;
    }
    let mut c = ::postgres::Client::connect(&t.uri, ::postgres::NoTls).unwrap();
    let start = Instant::now();
    loop {
        let others: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        if others == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the killed child's session is still open after 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Opens the store fresh and checks that exactly one of versions 1 and 2 is in production, the
/// other deprecated, the production alias on the first, and that the audit log after entry
/// `before` is a chain of complete promotions ending at the production version. Returns the
/// number of promotions in that chain.
fn check_after_kill(t: &Target, before: i64) -> usize {
    use Stage::*;
    let store = t.open();
    let store = store.as_ref();
    let prod = productions(store);
    assert_eq!(
        prod.len(),
        1,
        "{} production versions: {prod:?}",
        prod.len()
    );
    let prod = prod[0];
    let other = if prod == 1 { 2 } else { 1 };
    assert_eq!(stage_of(store, other), Deprecated);
    assert_eq!(production_alias(store), Some(prod));
    let log = audit_after(store, before);
    assert_eq!(
        log.len() % 3,
        0,
        "a promotion was written in part: {:#?}",
        &log[log.len() - log.len() % 3..]
    );
    // Each promotion: the promoted entry, its displaced partner, the alias move, one time.
    let mut current = 2;
    for entries in log.chunks(3) {
        let next = if current == 1 { 2 } else { 1 };
        assert_one_promotion(entries, next, Deprecated, current);
        current = next;
    }
    assert_eq!(
        current, prod,
        "the audit log ends elsewhere than production"
    );
    log.len() / 3
}
