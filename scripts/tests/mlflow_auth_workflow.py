"""The official MLflow client against `hone server --auth`: a user with a token
(MLFLOW_TRACKING_TOKEN) creates an experiment and logs a run; a user with a password
(MLFLOW_TRACKING_USERNAME/PASSWORD) and only the default READ permission reads it all back and
gets PERMISSION_DENIED on every write to it, while logging freely to an experiment of their
own; a wrong password and no credentials get UNAUTHENTICATED. Run by
crates/hone-cli/tests/server_auth.rs with .tools/mlflow-venv/bin/python (scripts/setup.sh);
usage: mlflow_auth_workflow.py URI TOKEN USER PASSWORD (the token's user is the writer, USER
the reader). Prints `auth workflow OK` at the end."""

import os
import sys

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

CREDENTIAL_VARS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def as_user(**env):
    """Switches the credentials the client sends (it reads them on every request)."""
    for var in CREDENTIAL_VARS:
        os.environ.pop(var, None)
    os.environ.update(env)


def refused(code, action, what):
    """Runs `action` and checks that the server refused it with `code`."""
    try:
        action()
    except MlflowException as e:
        check(e.error_code == code, f"{what}: expected {code}, got {e.error_code}: {e}")
        return
    raise AssertionError(f"{what}: expected {code}, but it succeeded")


def main(uri, token, reader, password):
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)

    # The writer, with a token: creates an experiment (and so gets MANAGE on it) and logs.
    as_user(MLFLOW_TRACKING_TOKEN=token)
    exp = mlflow.set_experiment("auth-workflow")
    with mlflow.start_run(run_name="trained") as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metrics({"auc": 0.75, "loss": 0.25})
        mlflow.set_tag("desk", "rates")
        mlflow.log_text("weights v1\n", "model/weights.txt")
    run_id = run.info.run_id
    found = mlflow.search_runs([exp.experiment_id], output_format="list")
    check([r.info.run_id for r in found] == [run_id], "the writer finds the run")

    # The reader, with a password and the default READ: reads everything back.
    as_user(MLFLOW_TRACKING_USERNAME=reader, MLFLOW_TRACKING_PASSWORD=password)
    got = client.get_run(run_id)
    check(got.data.params == {"alpha": "0.5"}, f"params {got.data.params}")
    check(got.data.metrics == {"auc": 0.75, "loss": 0.25}, f"metrics {got.data.metrics}")
    check(got.data.tags.get("desk") == "rates", "tag")
    check([m.value for m in client.get_metric_history(run_id, "auc")] == [0.75], "history")
    text = mlflow.artifacts.load_text(f"runs:/{run_id}/model/weights.txt")
    check(text == "weights v1\n", f"artifact {text!r}")
    found = mlflow.search_runs([exp.experiment_id], output_format="list")
    check(len(found) == 1, "the reader finds the run")
    names = [e.name for e in client.search_experiments()]
    check("auth-workflow" in names, f"experiments {names}")

    # ... and every write to the writer's experiment is refused.
    refused("PERMISSION_DENIED", lambda: client.log_metric(run_id, "auc", 1.0), "log_metric")
    refused("PERMISSION_DENIED", lambda: client.log_param(run_id, "beta", "1"), "log_param")
    refused("PERMISSION_DENIED", lambda: client.set_tag(run_id, "desk", "fx"), "set_tag")
    refused("PERMISSION_DENIED", lambda: client.delete_run(run_id), "delete_run")
    refused("PERMISSION_DENIED", lambda: client.create_run(exp.experiment_id), "create_run")
    refused("PERMISSION_DENIED", lambda: client.delete_experiment(exp.experiment_id),
            "delete_experiment")
    # The artifact proxy's client raises requests' HTTPError, not MlflowException.
    try:
        client.log_text(run_id, "overwritten\n", "model/weights.txt")
    except Exception as e:  # noqa: BLE001 - whichever the client raises, it must be a 403
        check("403" in str(e) or getattr(e, "error_code", "") == "PERMISSION_DENIED",
              f"artifact upload: expected 403, got {e!r}")
    else:
        raise AssertionError("artifact upload: expected 403, but it succeeded")
    as_user(MLFLOW_TRACKING_TOKEN=token)
    check(client.get_run(run_id).data.metrics == {"auc": 0.75, "loss": 0.25},
          "nothing changed by the refused writes")
    text = mlflow.artifacts.load_text(f"runs:/{run_id}/model/weights.txt")
    check(text == "weights v1\n", "the artifact is unchanged")

    # The reader logs freely to an experiment of their own.
    as_user(MLFLOW_TRACKING_USERNAME=reader, MLFLOW_TRACKING_PASSWORD=password)
    own = mlflow.set_experiment("reader-own")
    with mlflow.start_run() as mine:
        mlflow.log_metric("x", 1.0)
    check(client.get_run(mine.info.run_id).data.metrics == {"x": 1.0}, "own run")
    check(own.experiment_id != exp.experiment_id, "a new experiment")

    # Wrong password, no credentials at all: unauthenticated.
    as_user(MLFLOW_TRACKING_USERNAME=reader, MLFLOW_TRACKING_PASSWORD=password + "x")
    refused("UNAUTHENTICATED", lambda: client.get_run(run_id), "wrong password")
    as_user()
    refused("UNAUTHENTICATED", lambda: client.get_run(run_id), "no credentials")
    print("auth workflow OK")


if __name__ == "__main__":
    main(*sys.argv[1:5])
