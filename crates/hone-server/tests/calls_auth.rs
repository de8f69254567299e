//! hone's store calls (`/api/2.0/hone/call`, the blobs) on a server with `--auth`, through
//! the client hone's commands use (`HttpBackend`): each call needs what the MLflow route doing
//! the same needs, the caller's name replaces the user a call claims, listings keep what the
//! caller can read, administrators' calls stay theirs, and a version's storage location is
//! derived by the server, whatever the client sends.

mod common;

use common::TestServer;
use hone_track::accounts::{self, Level, ResourceKind};
use hone_track::artifacts::BlobStore;
use hone_track::remote::{Credentials, HttpBackend};
use hone_track::store::NewRun;
use hone_track::{
    ArtifactRecord, Backend, Coordinator, Maintenance, NewModelVersion, Registry, Store,
    TrackError, ViewType,
};

use common::PASSWORD;

/// A server with authentication and users `root` (administrator), `alice` and `bob`.
fn server(default: Option<Level>) -> TestServer {
    TestServer::with_users(default)
}

fn url(s: &TestServer) -> String {
    format!("http://{}", s.addr)
}

/// `user`'s client of the server.
fn client(s: &TestServer, user: &str) -> HttpBackend {
    let credentials = Credentials::Basic {
        user: user.into(),
        password: PASSWORD.into(),
    };
    HttpBackend::connect_as(&url(s), Some(&credentials)).unwrap()
}

fn denied<T: std::fmt::Debug>(r: hone_track::Result<T>) -> String {
    match r {
        Err(TrackError::Invalid(m)) if m.contains("Permission denied") => m,
        other => panic!("expected a permission error, got {other:?}"),
    }
}

fn run_in(store: &dyn Store, exp: &str) -> String {
    store
        .create_run(NewRun {
            experiment_id: exp.into(),
            ..Default::default()
        })
        .unwrap()
        .run_id
}

#[test]
fn without_credentials_the_client_is_told_how_to_authenticate() {
    let s = server(Some(Level::Read));
    let anonymous = HttpBackend::connect_as(&url(&s), None).unwrap();
    let e = anonymous.list_experiments(ViewType::All).unwrap_err();
    assert!(
        matches!(&e, TrackError::Invalid(m) if m.contains("MLFLOW_TRACKING_TOKEN")),
        "{e}"
    );
    let wrong = Credentials::Basic {
        user: "alice".into(),
        password: "wrong password!".into(),
    };
    let e = HttpBackend::connect_as(&url(&s), Some(&wrong))
        .unwrap()
        .list_experiments(ViewType::All)
        .unwrap_err();
    assert!(matches!(e, TrackError::Invalid(_)), "{e}");
    // A token works as a password does.
    let direct = hone_track::open_store(&s.uri).unwrap();
    let (_, secret) = accounts::create_token(direct.as_ref(), "bob", None).unwrap();
    let bob = HttpBackend::connect_as(&url(&s), Some(&Credentials::Token(secret))).unwrap();
    assert!(bob.list_experiments(ViewType::All).is_ok());
}

#[test]
fn calls_need_the_level_of_their_mlflow_route() {
    let s = server(Some(Level::Read));
    let (alice, bob) = (client(&s, "alice"), client(&s, "bob"));
    // Alice creates, so she manages; bob reads by default, and reading is all he does.
    let exp = alice.create_experiment("alice-exp", &[]).unwrap();
    let run = run_in(&alice, &exp);
    assert_eq!(bob.get_experiment(&exp).unwrap().name, "alice-exp");
    assert_eq!(bob.get_run(&run).unwrap().info.run_id, run);
    denied(bob.create_run(NewRun {
        experiment_id: exp.clone(),
        ..Default::default()
    }));
    denied(bob.rename_run(&run, "mine now"));
    denied(bob.end_run(&run, hone_track::RunStatus::Killed));
    denied(
        bob.set_runs_lifecycle_cascade(std::slice::from_ref(&run), hone_track::Lifecycle::Deleted),
    );
    denied(bob.get_or_create_experiment("alice-exp"));
    denied(bob.next_sequence(&format!("study:{exp}")));
    // Store-wide housekeeping is for administrators.
    denied(alice.purge_deleted_runs(0));
    assert!(
        alice.reap().is_ok(),
        "reaping applies the store's rule only"
    );
    denied(alice.referenced_blobs());
    denied(alice.next_sequence("anything else"));
    let root = client(&s, "root");
    assert!(root.purge_deleted_runs(0).is_ok());
    assert!(root.reap().is_ok());
    // Granted EDIT, bob writes.
    let direct = hone_track::open_store(&s.uri).unwrap();
    direct
        .set_permission("bob", ResourceKind::Experiment, &exp, Level::Edit)
        .unwrap();
    assert_eq!(bob.get_or_create_experiment("alice-exp").unwrap(), exp);
    run_in(&bob, &exp);
    assert_eq!(bob.next_sequence(&format!("study:{exp}")).unwrap(), 0);
    // A run bob creates in his own new experiment is his to manage.
    let mine = bob.get_or_create_experiment("bob-exp").unwrap();
    let r = run_in(&bob, &mine);
    bob.set_runs_lifecycle_cascade(&[r], hone_track::Lifecycle::Deleted)
        .unwrap();
}

#[test]
fn listings_keep_what_the_caller_can_read() {
    let s = server(None);
    let (alice, bob) = (client(&s, "alice"), client(&s, "bob"));
    let a = alice.create_experiment("a", &[]).unwrap();
    bob.create_experiment("b", &[]).unwrap();
    let names = |c: &HttpBackend| -> Vec<String> {
        c.list_experiments(ViewType::All)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    assert_eq!(names(&alice), ["a"]);
    assert_eq!(names(&bob), ["b"]);
    assert!(names(&client(&s, "root")).len() >= 2);
    denied(bob.get_experiment(&a));
    denied(bob.get_experiment_by_name("a"));
    assert!(bob.get_experiment_by_name("nothing").unwrap().is_none());
    denied(bob.search_runs(&hone_track::SearchRequest {
        experiment_ids: vec![a.clone()],
        ..Default::default()
    }));
    alice.create_registered_model("ma", "", &[]).unwrap();
    bob.create_registered_model("mb", "", &[]).unwrap();
    let models: Vec<String> = bob
        .list_registered_models("")
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(models, ["mb"]);
    denied(bob.get_registered_model("ma"));
    denied(bob.audit_log("ma"));
}

#[test]
fn the_caller_is_who_acts_whatever_the_call_claims() {
    let s = server(Some(Level::Read));
    let alice = client(&s, "alice");
    let m = alice
        .create_registered_model_as("m", "", &[], "mallory")
        .unwrap();
    assert_eq!(m.user_id, "alice");
    let exp = alice.create_experiment("e", &[]).unwrap();
    let run = alice
        .create_run(NewRun {
            experiment_id: exp.clone(),
            user_id: Some("mallory".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(run.user_id, "alice");
    // The storage location a client sends is never stored: the server derives it.
    let v = alice
        .create_model_version(&NewModelVersion {
            storage_location: Some("file:///etc"),
            user: Some("mallory"),
            ..NewModelVersion::from_run("m", &run.run_id, None, &[])
        })
        .unwrap();
    assert_eq!(
        v.storage_location,
        format!("mlflow-artifacts:/{exp}/{}/artifacts", run.run_id)
    );
    assert_eq!(v.user_id, "alice");
    let e = alice
        .create_model_version(&NewModelVersion {
            source: Some("file:///etc/passwd"),
            ..NewModelVersion::from_run("m", &run.run_id, None, &[])
        })
        .unwrap_err();
    assert!(
        matches!(&e, TrackError::Invalid(m) if m.contains("source")),
        "{e}"
    );
    let log = alice.audit_log("m").unwrap();
    assert!(log.iter().all(|e| e.user_id == "alice"), "{log:?}");
}

#[test]
fn blobs_are_served_only_to_readers_of_a_run_that_records_them() {
    let s = server(None);
    let alice = client(&s, "alice");
    let exp = alice.create_experiment("e", &[]).unwrap();
    let run = run_in(&alice, &exp);
    let blobs = BlobStore::open(&url(&s)).unwrap();
    let credentials = |user: &str| Credentials::Basic {
        user: user.into(),
        password: PASSWORD.into(),
    };
    let alice_blobs = HttpBackend::connect_as(&url(&s), Some(&credentials("alice")))
        .unwrap()
        .blobs();
    let bob_blobs = HttpBackend::connect_as(&url(&s), Some(&credentials("bob")))
        .unwrap()
        .blobs();
    // Without credentials nothing is stored.
    assert!(blobs.put(b"anonymous").is_err());
    let (sha, size) = alice_blobs.put(b"model bytes").unwrap();
    assert_eq!(size, 11);
    alice
        .record_artifact(
            &run,
            &ArtifactRecord {
                path: "model.txt".into(),
                sha256: sha.clone(),
                size,
            },
        )
        .unwrap();
    assert_eq!(
        alice_blobs.get(&sha, &run, "model.txt").unwrap(),
        b"model bytes"
    );
    denied(bob_blobs.get(&sha, &run, "model.txt"));
    // Only at the path the run records, only for the run that records it.
    let e = alice_blobs.get(&sha, &run, "other.txt").unwrap_err();
    assert!(matches!(e, TrackError::NotFound(_)), "{e}");
    let other = run_in(&alice, &exp);
    assert!(alice_blobs.get(&sha, &other, "model.txt").is_err());
    // A corrupted blob is an error, never served.
    let path = s.artifacts.join("blobs").join(&sha[..2]).join(&sha);
    std::fs::write(&path, b"tampered!!!").unwrap();
    let e = alice_blobs.get(&sha, &run, "model.txt").unwrap_err();
    assert!(matches!(e, TrackError::Corrupted { .. }), "{e}");
}

#[test]
fn malformed_calls_are_refused_and_change_nothing() {
    let s = server(Some(Level::Read));
    let auth = {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("root:{PASSWORD}"))
        )
    };
    for body in [
        "{",
        r#"{"call": "drop_everything", "args": {}}"#,
        r#"{"call": "create_experiment", "args": {"name": 7, "tags": []}}"#,
        r#"{"call": "create_experiment", "args": {"name": "x", "tags": [], "extra": 1}}"#,
        r#"{"call": "create_experiment"}"#,
    ] {
        let r = s.send(
            "POST",
            "/api/2.0/hone/call",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json()["error_code"], "INVALID_PARAMETER_VALUE", "{body}");
    }
    let direct = hone_track::open_store(&s.uri).unwrap();
    assert!(direct.list_experiments(ViewType::All).unwrap().is_empty());
    let _: &dyn Backend = direct.as_ref();
}
