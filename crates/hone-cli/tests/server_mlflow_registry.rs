//! `hone server` against the official MLflow Python client's model-registry calls: the built
//! binary on a free loopback port over a temporary SQLite store, and
//! `scripts/tests/mlflow_registry_workflow.py` run with `.tools/mlflow-venv/bin/python` (made
//! by `scripts/setup.sh`). The test fails, not skips, when that venv is missing. The store is
//! then read directly: the client's stage changes are hone's audited steps, by the caller.

mod common;

use common::server::{ServerProcess, run_client_script, store_uri};

#[test]
fn the_official_mlflow_client_drives_the_registry_through_hone_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::in_dir(dir.path(), &[]);
    run_client_script(
        "mlflow_registry_workflow.py",
        &server.addr,
        dir.path(),
        &[],
        "registry workflow OK",
    );

    // The client's one-call None -> Production was hone's two audited steps, by the caller.
    let store = hone_track::open_store(&store_uri(dir.path())).unwrap();
    let steps: Vec<(String, String, String, String)> = store
        .audit_log("btc-momentum")
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "transition_stage" && e.version == Some(2))
        .map(|e| {
            (
                e.from.unwrap_or_default(),
                e.to.unwrap_or_default(),
                e.user_id,
                e.reason,
            )
        })
        .collect();
    let step = |from: &str, to: &str, reason: &str| {
        (
            from.to_string(),
            to.to_string(),
            "anonymous".to_string(),
            reason.to_string(),
        )
    };
    assert_eq!(
        steps,
        [
            step("None", "Staging", "MLflow transition-stage"),
            step("Staging", "Production", "MLflow transition-stage"),
            step(
                "Production",
                "Archived",
                "archived by the move of version 1 to production"
            ),
        ]
    );
}
