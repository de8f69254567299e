//! hone's own commands as clients of `hone server` (`--store http://host:port`), as built
//! binaries: a desk trains, inspects, registers, promotes, predicts from the registry and runs
//! a study through one server, and every answer equals what the same command gives on the
//! server's store directly; with `--auth`, the credentials come from MLflow's variables,
//! creators manage what they create, readers only read, and what a server cannot do for a
//! client (`hone gc`, `hone users`) is refused in one line.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::one_error_line;
use common::server::{ServerProcess, store_uri};
use serde_json::Value;

/// A small job on the bundled data.
fn config(dir: &Path) -> String {
    let text = format!(
        r#"name = "spx_remote"
[data]
path = "{}"
time_column = "date"
[data.derive]
price = "close"
returns = [1, 5, 20]
rolling = [20]
[target]
kind = "direction"
[preprocess]
scale = "standard"
[split]
scheme = "timeseries"
n_splits = 3
holdout = 0.2
[model]
type = "logistic"
C = 0.05
"#,
        common::bundled_data()
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `hone ARGS --store STORE` in `dir`, with `envs` (credentials) and `stdin`.
fn hone_in(dir: &Path, store: &str, args: &[&str], envs: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(args)
        .args(["--store", store])
        .current_dir(dir)
        .env_remove("HONE_STORE_URI")
        .env_remove("HONE_ARTIFACTS_URI")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .envs(envs.iter().copied())
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

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: Output, what: &str) -> Value {
    serde_json::from_str(&ok(out, what)).unwrap_or_else(|e| panic!("{what}: {e}"))
}

#[test]
fn a_desk_works_through_one_server_and_sees_what_the_store_holds() {
    let server_dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = ServerProcess::in_dir(server_dir.path(), &[]);
    let remote = format!("http://{}", server.addr);
    let direct = store_uri(server_dir.path());
    let w = work.path();
    let on = |store: &str, args: &[&str]| hone_in(w, store, args, &[], "");
    let job = config(w);

    let report = json(on(&remote, &["train", &job, "--json"]), "train");
    let run = report["run_id"].as_str().unwrap().to_string();
    // What the client reads through the server is what the store holds.
    for args in [
        vec!["runs", "show", &run, "--json"],
        vec!["runs", "list", "--experiment", "spx_remote", "--json"],
        vec!["artifacts", "list", &run, "--json"],
        vec!["experiments", "list", "--json"],
    ] {
        assert_eq!(
            json(on(&remote, &args), "remote"),
            json(on(&direct, &args), "direct"),
            "{args:?}"
        );
    }
    // Artifacts were uploaded through the server, byte for byte, and verify there.
    ok(on(&remote, &["artifacts", "verify", &run]), "verify");
    let through = ok(
        on(&remote, &["artifacts", "get", &run, "model.json"]),
        "get",
    );
    let local = ok(
        on(&direct, &["artifacts", "get", &run, "model.json"]),
        "get",
    );
    assert_eq!(through, local);

    // The registry through the server; predictions from it equal the run's own.
    let reg = json(
        on(
            &remote,
            &["models", "register", &run, "--name", "spx", "--json"],
        ),
        "register",
    );
    assert_eq!(reg["version"], 1);
    for stage in ["staging", "production"] {
        ok(
            on(
                &remote,
                &["models", "promote", "spx", "1", "--stage", stage],
            ),
            "promote",
        );
    }
    let data = common::bundled_data();
    ok(
        on(
            &remote,
            &[
                "predict",
                "--model",
                "models:/spx@production",
                "--data",
                &data,
                "--out",
                "a.csv",
            ],
        ),
        "predict remote",
    );
    ok(
        on(
            &direct,
            &[
                "predict", "--model", &run, "--data", &data, "--out", "b.csv",
            ],
        ),
        "predict direct",
    );
    assert_eq!(
        std::fs::read(w.join("a.csv")).unwrap(),
        std::fs::read(w.join("b.csv")).unwrap()
    );
    let show = json(
        on(&direct, &["models", "show", "spx@production", "--json"]),
        "show",
    );
    assert_eq!(show["version"], 1, "{show}");

    // A study whose trials are numbered by the server.
    std::fs::write(
        w.join("space.toml"),
        "[x]\ntype = \"float\"\nlow = -1.0\nhigh = 1.0\n",
    )
    .unwrap();
    ok(
        on(
            &remote,
            &[
                "study",
                "create",
                "--name",
                "q",
                "--space",
                "space.toml",
                "--direction",
                "minimize",
            ],
        ),
        "study create",
    );
    for n in 0..3 {
        let asked = json(
            on(&remote, &["study", "ask", "--name", "q", "--json"]),
            "ask",
        );
        assert_eq!(asked["trial"], n);
        let x = asked["params"]["x"].as_f64().unwrap();
        let value = format!("{}", x * x);
        ok(
            on(
                &remote,
                &[
                    "study",
                    "tell",
                    "--name",
                    "q",
                    "--trial",
                    &n.to_string(),
                    "--value",
                    &value,
                ],
            ),
            "tell",
        );
    }
    assert_eq!(
        json(
            on(&remote, &["study", "trials", "--name", "q", "--json"]),
            "trials"
        ),
        json(
            on(&direct, &["study", "trials", "--name", "q", "--json"]),
            "trials"
        )
    );

    // What is done where the store is, not through a server: one line, exit 2.
    let gc = on(&remote, &["gc"]);
    assert!(one_error_line(&gc, 2, "gc").contains("hone gc"));
    let users = on(&remote, &["users", "list"]);
    assert!(one_error_line(&users, 2, "users").contains("hone users"));
    let artifacts = on(
        &remote,
        &["experiments", "list", "--artifacts", "/tmp/elsewhere"],
    );
    assert!(one_error_line(&artifacts, 2, "--artifacts").contains("--artifacts"));
}

#[test]
fn a_server_that_is_not_there_or_not_hone_is_one_line() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let out = hone_in(
        w,
        &format!("http://127.0.0.1:{port}"),
        &["experiments", "list"],
        &[],
        "",
    );
    assert!(one_error_line(&out, 1, "refused").contains("unreachable"));
    let out = hone_in(
        w,
        "http://user:secret@127.0.0.1:1",
        &["experiments", "list"],
        &[],
        "",
    );
    let line = one_error_line(&out, 2, "userinfo");
    assert!(
        !line.contains("secret") || line.contains("credentials do not go"),
        "{line}"
    );
    assert!(
        std::fs::read_dir(w).unwrap().next().is_none(),
        "nothing is left behind"
    );
}

#[test]
fn with_auth_credentials_come_from_mlflows_variables() {
    let server_dir = tempfile::tempdir().unwrap();
    let d = server_dir.path();
    let store = store_uri(d);
    for (name, admin) in [("root", true), ("alice", false), ("bob", false)] {
        let mut args = vec!["users", "add", name, "--password-stdin"];
        if admin {
            args.push("--admin");
        }
        ok(
            hone_in(d, &store, &args, &[], &format!("{name} password\n")),
            "users add",
        );
    }
    let server = ServerProcess::in_dir(d, &["--auth"]);
    let remote = format!("http://{}", server.addr);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let as_user = |user: &str, args: &[&str]| {
        let password = format!("{user} password");
        hone_in(
            w,
            &remote,
            args,
            &[
                ("MLFLOW_TRACKING_USERNAME", user),
                ("MLFLOW_TRACKING_PASSWORD", &password),
            ],
            "",
        )
    };
    let anonymous = hone_in(w, &remote, &["experiments", "list"], &[], "");
    assert!(one_error_line(&anonymous, 2, "no credentials").contains("MLFLOW_TRACKING_USERNAME"));

    let job = config(w);
    let report = json(as_user("alice", &["train", &job, "--json"]), "alice trains");
    let run = report["run_id"].as_str().unwrap().to_string();
    // Bob reads by default, but deletes nothing of alice's.
    ok(as_user("bob", &["runs", "show", &run]), "bob reads");
    let refused = as_user("bob", &["runs", "delete", &run]);
    assert!(one_error_line(&refused, 2, "bob deletes").contains("Permission denied"));
    ok(as_user("alice", &["runs", "delete", &run]), "alice deletes");
    ok(
        as_user("alice", &["runs", "restore", &run]),
        "alice restores",
    );
    // Housekeeping of the whole store is the administrator's.
    let refused = as_user("alice", &["runs", "purge"]);
    assert!(one_error_line(&refused, 2, "alice purges").contains("administrators"));
    ok(as_user("root", &["runs", "purge"]), "root purges");
    // The registry records who acted, as the server authenticated them.
    ok(
        as_user("alice", &["models", "register", &run, "--name", "m"]),
        "register",
    );
    let log = json(
        as_user("bob", &["models", "changelog", "m", "--json"]),
        "changelog",
    );
    let text = log.to_string();
    assert!(text.contains("alice"), "{text}");
}
