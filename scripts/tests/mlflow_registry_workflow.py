"""The official MLflow client's model-registry calls against `hone server`, every answer
checked. Run by crates/hone-cli/tests/server_mlflow_registry.rs with
.tools/mlflow-venv/bin/python (scripts/setup.sh); usage: mlflow_registry_workflow.py URI.
Prints `registry workflow OK` at the end."""

import sys
import warnings

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def refused(call, code, what):
    """`call()` must raise an MlflowException with `code` (the server's error_code)."""
    try:
        call()
    except MlflowException as e:
        check(e.error_code == code, f"{what}: {e.error_code} {e}")
        return str(e)
    raise AssertionError(f"{what}: accepted")


def main(uri):
    warnings.simplefilter("ignore")  # stages are deprecated since MLflow 2.9; still served
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    mlflow.set_experiment("registry-workflow")
    with mlflow.start_run() as run:
        mlflow.log_metric("auc", 0.61)
    run_id = run.info.run_id

    # Registered models: create (tags, description), get, duplicate refused.
    rm = client.create_registered_model(
        "btc-momentum", tags={"desk": "crypto"}, description="hourly")
    check(rm.name == "btc-momentum" and rm.description == "hourly", f"created {rm}")
    check(rm.tags == {"desk": "crypto"}, f"tags {rm.tags}")
    refused(lambda: client.create_registered_model("btc-momentum"),
            "RESOURCE_ALREADY_EXISTS", "duplicate model")

    # Versions from the run's artifacts: string versions, READY at once, run_id kept.
    mv1 = client.create_model_version(
        "btc-momentum", source=f"runs:/{run_id}/model", run_id=run_id,
        tags={"fold": "all"}, description="first")
    check(mv1.version == "1" and mv1.status == "READY", f"version 1 {mv1}")
    check(mv1.run_id == run_id and mv1.source == f"runs:/{run_id}/model", f"lineage {mv1}")
    check(mv1.tags == {"fold": "all"}, f"version tags {mv1.tags}")
    mv2 = client.create_model_version("btc-momentum", source=f"runs:/{run_id}/model",
                                      run_id=run_id)
    check(mv2.version == "2", f"version 2 {mv2.version}")
    uri2 = client.get_model_version_download_uri("btc-momentum", "2")
    check(uri2.startswith("mlflow-artifacts:/") and uri2.endswith(f"/{run_id}/artifacts/model"),
          f"download uri {uri2}")
    # A source outside the server's store is refused (spec §8).
    refused(lambda: client.create_model_version("btc-momentum", source="file:///etc/passwd"),
            "INVALID_PARAMETER_VALUE", "file: source")

    # Tags and descriptions.
    client.set_model_version_tag("btc-momentum", "2", "validation_status", "approved")
    check(client.get_model_version("btc-momentum", "2").tags ==
          {"validation_status": "approved"}, "version tag set")
    client.delete_model_version_tag("btc-momentum", "2", "validation_status")
    check(client.get_model_version("btc-momentum", "2").tags == {}, "version tag deleted")
    client.set_registered_model_tag("btc-momentum", "owner", "ana")
    client.delete_registered_model_tag("btc-momentum", "desk")
    check(client.get_registered_model("btc-momentum").tags == {"owner": "ana"}, "model tags")
    client.update_registered_model("btc-momentum", description="daily")
    client.update_model_version("btc-momentum", "1", description="better")
    check(client.get_registered_model("btc-momentum").description == "daily", "model desc")
    check(client.get_model_version("btc-momentum", "1").description == "better", "version desc")

    # Aliases; `production` follows the stage and is refused.
    client.set_registered_model_alias("btc-momentum", "champion", "1")
    check(client.get_model_version_by_alias("btc-momentum", "champion").version == "1",
          "alias champion")
    check(client.get_registered_model("btc-momentum").aliases == {"champion": "1"},
          "aliases on the model")
    msg = refused(lambda: client.set_registered_model_alias("btc-momentum", "production", "1"),
                  "INVALID_PARAMETER_VALUE", "production alias")
    check("follows the Production stage" in msg, msg)
    refused(lambda: client.get_model_version_by_alias("btc-momentum", "nope"),
            "INVALID_PARAMETER_VALUE", "unknown alias")

    # Stages: None -> Production in one call (hone walks None -> Staging -> Production).
    mv = client.transition_model_version_stage("btc-momentum", "2", "Production")
    check(mv.current_stage == "Production", f"stage {mv.current_stage}")
    check(client.get_model_version_by_alias("btc-momentum", "production").version == "2",
          "production alias follows")
    mv = client.transition_model_version_stage("btc-momentum", "1", "Production",
                                               archive_existing_versions=True)
    check(client.get_model_version("btc-momentum", "2").current_stage == "Archived",
          "archive_existing_versions archived version 2")
    latest = client.get_latest_versions("btc-momentum", stages=["Production"])
    check([v.version for v in latest] == ["1"], f"latest production {latest}")
    latest = {v.current_stage: v.version for v in client.get_latest_versions("btc-momentum")}
    check(latest == {"Production": "1", "Archived": "2"}, f"latest per stage {latest}")

    # Searches (the client appends the prompt filter to every registered-model search).
    client.create_registered_model("eth-meanrev")
    names = [m.name for m in client.search_registered_models()]
    check(names == ["btc-momentum", "eth-meanrev"], f"all models {names}")
    names = [m.name for m in client.search_registered_models(filter_string="name LIKE 'eth%'")]
    check(names == ["eth-meanrev"], f"LIKE {names}")
    page = client.search_registered_models(max_results=1)
    check(len(page) == 1 and page.token, "first page with a token")
    page2 = client.search_registered_models(max_results=1, page_token=page.token)
    check([m.name for m in page2] == ["eth-meanrev"], f"second page {list(page2)}")
    found = client.search_model_versions(f"run_id = '{run_id}'")
    check(sorted(v.version for v in found) == ["1", "2"], f"versions by run {found}")
    found = client.search_model_versions("name = 'btc-momentum' AND version_number > 1")
    check([v.version for v in found] == ["2"], f"version_number {found}")

    # Rename, then deletes: the alias keeps its version; deleting the alias frees it.
    client.rename_registered_model("btc-momentum", "btc-momentum-v2")
    check(client.get_model_version("btc-momentum-v2", "1").version == "1", "renamed versions")
    refused(lambda: client.get_registered_model("btc-momentum"),
            "RESOURCE_DOES_NOT_EXIST", "old name")
    client.delete_model_version("btc-momentum-v2", "2")
    refused(lambda: client.get_model_version("btc-momentum-v2", "2"),
            "RESOURCE_DOES_NOT_EXIST", "deleted version")
    client.delete_registered_model_alias("btc-momentum-v2", "champion")
    client.delete_registered_model("btc-momentum-v2")
    refused(lambda: client.get_registered_model("btc-momentum-v2"),
            "RESOURCE_DOES_NOT_EXIST", "deleted model")

    # The fluent API: register_model from a run URI (files under the run's `model/`, so MLflow
    # 3 registers them rather than looking for a logged model).
    client.log_text(run_id, "flavor: test\n", "model/MLmodel")
    mv = mlflow.register_model(f"runs:/{run_id}/model", "eth-meanrev")
    check(mv.version == "1" and mv.run_id == run_id, f"register_model {mv}")
    print("registry workflow OK")


if __name__ == "__main__":
    main(sys.argv[1])
