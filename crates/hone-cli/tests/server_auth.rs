//! `hone users` and `hone server --auth` as built binaries: users, tokens and grants managed
//! from the command line, the server's refusal to bind beyond loopback without
//! authentication and an administrator, and the official MLflow client
//! (`scripts/tests/mlflow_auth_workflow.py`, run with `.tools/mlflow-venv/bin/python` from
//! `scripts/setup.sh`; the test fails, not skips, when that venv is missing) logging with a
//! token and reading with a password against `hone server --auth`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::server::{ServerProcess, repo_root, store_uri};

/// `hone users ARGS --store <dir's store>`, with `stdin` as standard input.
fn users(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hone"))
        .arg("users")
        .args(args)
        .args(["--store", &store_uri(dir)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit code 2 and a one-line error containing `needle`.
fn usage_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
}

fn add_user(dir: &Path, name: &str, password: &str, admin: bool) {
    let mut args = vec!["add", name, "--password-stdin"];
    if admin {
        args.push("--admin");
    }
    ok(&users(dir, &args, &format!("{password}\n")));
}

#[test]
fn users_tokens_and_grants_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Reading commands create no store.
    usage_error(&users(d, &["list"], ""), "does not exist");
    assert!(!d.join("hone.db").exists());

    add_user(d, "root", "root password", true);
    add_user(d, "alice", "alice password", false);
    usage_error(
        &users(d, &["add", "alice", "--password-stdin"], "another one\n"),
        "already exists",
    );
    usage_error(
        &users(d, &["add", "carol", "--password-stdin"], "short\n"),
        "shorter than 8",
    );
    usage_error(
        &users(d, &["add", "bad:name", "--password-stdin"], "long enough\n"),
        "invalid user name",
    );
    usage_error(
        &users(d, &["add", "carol", "--password-stdin"], ""),
        "--password-stdin",
    );
    // Without --password-stdin and without a terminal there is no one to prompt.
    usage_error(&users(d, &["add", "carol"], ""), "--password-stdin");
    let list = ok(&users(d, &["list", "--json"], ""));
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    let names: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["name"].as_str().unwrap(), u["admin"].as_bool().unwrap()))
        .collect();
    assert_eq!(names, [("alice", false), ("root", true)]);
    // The password is stored as an argon2 hash, never as given.
    let raw = std::fs::read(d.join("hone.db")).unwrap();
    assert!(!raw.windows(14).any(|w| w == b"alice password"));

    // Tokens: printed once on stdout, listed without the secret, revoked by id.
    let out = users(d, &["token", "create", "alice", "--expires-days", "30"], "");
    let token = ok(&out).trim().to_string();
    assert!(token.starts_with("hone_"), "{token}");
    let listed = ok(&users(d, &["token", "list", "--json"], ""));
    assert!(!listed.contains(&token[21..]), "the secret is never listed");
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let id = v[0]["id"].as_str().unwrap().to_string();
    assert!(token.contains(&id));
    assert_eq!(v[0]["live"], true);
    assert!(v[0]["expires"].as_i64().is_some());
    usage_error(
        &users(d, &["token", "create", "alice", "--expires-days", "0"], ""),
        "--expires-days",
    );
    usage_error(&users(d, &["token", "create", "nobody"], ""), "nobody");
    ok(&users(d, &["token", "revoke", &id], ""));
    let v: serde_json::Value =
        serde_json::from_str(&ok(&users(d, &["token", "list", "--json"], ""))).unwrap();
    assert_eq!(v[0]["live"], false);
    usage_error(&users(d, &["token", "revoke", "ffff"], ""), "ffff");

    // Grants: the resource must exist and be named by exactly one flag.
    let store = hone_track::open_store(&store_uri(d)).unwrap();
    let exp = store.create_experiment("desk", &[]).unwrap();
    ok(&users(
        d,
        &["grant", "alice", "--experiment", &exp, "--level", "edit"],
        "",
    ));
    usage_error(
        &users(
            d,
            &["grant", "alice", "--experiment", "999", "--level", "read"],
            "",
        ),
        "--experiment 999",
    );
    usage_error(
        &users(
            d,
            &["grant", "alice", "--experiment", "x", "--level", "read"],
            "",
        ),
        "--experiment",
    );
    usage_error(
        &users(
            d,
            &["grant", "alice", "--model", "nope", "--level", "read"],
            "",
        ),
        "--model",
    );
    usage_error(
        &users(
            d,
            &["grant", "nobody", "--experiment", &exp, "--level", "read"],
            "",
        ),
        "nobody",
    );
    let grants = ok(&users(d, &["grants", "alice", "--json"], ""));
    let v: serde_json::Value = serde_json::from_str(&grants).unwrap();
    assert_eq!(v[0]["level"], "EDIT");
    assert_eq!(v[0]["resource"], exp.as_str());
    ok(&users(d, &["revoke", "alice", "--experiment", &exp], ""));
    usage_error(
        &users(d, &["revoke", "alice", "--experiment", &exp], ""),
        "no grant",
    );

    // passwd and delete.
    ok(&users(
        d,
        &["passwd", "alice", "--password-stdin"],
        "a new password\n",
    ));
    let alice = store.get_user("alice").unwrap().unwrap();
    assert!(hone_track::accounts::verify_password(
        "a new password",
        &alice.password_hash
    ));
    usage_error(
        &users(
            d,
            &["passwd", "nobody", "--password-stdin"],
            "whatever123\n",
        ),
        "nobody",
    );
    ok(&users(d, &["delete", "alice"], ""));
    usage_error(&users(d, &["delete", "alice"], ""), "alice");

    // Administrators: made and unmade, but never the last one.
    usage_error(&users(d, &["delete", "root"], ""), "last administrator");
    usage_error(
        &users(d, &["admin", "root", "--off"], ""),
        "last administrator",
    );
    add_user(d, "bob", "bob password", false);
    ok(&users(d, &["admin", "bob"], ""));
    assert!(store.get_user("bob").unwrap().unwrap().admin);
    ok(&users(d, &["admin", "root", "--off"], ""));
    assert!(!store.get_user("root").unwrap().unwrap().admin);
    ok(&users(d, &["delete", "root"], ""));
}

#[test]
fn binding_beyond_loopback_needs_auth_and_an_administrator() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hone"))
            .arg("server")
            .args(args)
            .args(["--port", "0", "--store", &store_uri(d)])
            .output()
            .unwrap()
    };
    // --auth with no administrator, on any host.
    usage_error(
        &server(&["--host", "0.0.0.0", "--auth"]),
        "hone users add NAME --admin",
    );
    add_user(d, "alice", "alice password", false);
    usage_error(&server(&["--auth"]), "needs an administrator");
    usage_error(
        &server(&["--auth", "--allow-origin", "*"]),
        "--allow-origin",
    );
    // --default-permission means nothing without --auth.
    assert_eq!(
        server(&["--default-permission", "none"]).status.code(),
        Some(2)
    );
    add_user(d, "root", "root password", true);
    let server = ServerProcess::in_dir(d, &["--host", "0.0.0.0", "--auth"]);
    assert!(server.addr.starts_with("0.0.0.0:"), "{}", server.addr);
}

#[test]
fn the_official_mlflow_client_authenticates_with_a_token_and_a_password() {
    let python = repo_root().join(".tools/mlflow-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/setup.sh` (it installs the MLflow client this test \
         drives)",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_user(d, "root", "root password", true);
    add_user(d, "writer", "writer password", false);
    add_user(d, "reader", "reader password", false);
    let token = ok(&users(d, &["token", "create", "writer"], ""))
        .trim()
        .to_string();
    let server = ServerProcess::in_dir(d, &["--auth"]);
    let addr = &server.addr;
    let out = Command::new(&python)
        .arg(repo_root().join("scripts/tests/mlflow_auth_workflow.py"))
        .arg(format!("http://{addr}"))
        .args([token.as_str(), "reader", "reader password"])
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .current_dir(d)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the MLflow auth workflow failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("auth workflow OK"), "{stdout}");
    // The writer's experiment is theirs to manage; the reader's own likewise.
    let grants = ok(&users(d, &["grants", "--json"], ""));
    let v: serde_json::Value = serde_json::from_str(&grants).unwrap();
    let mut owners: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["user"].as_str().unwrap(), g["level"].as_str().unwrap()))
        .collect();
    owners.sort();
    assert_eq!(owners, [("reader", "MANAGE"), ("writer", "MANAGE")]);
}
