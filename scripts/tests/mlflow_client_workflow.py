"""The official MLflow client against `hone server`: a training-script workflow, every value
read back and checked, artifacts included (the mlflow-artifacts proxy). Run by
crates/hone-cli/tests/server_mlflow.rs with .tools/mlflow-venv/bin/python (scripts/setup.sh);
usage: mlflow_client_workflow.py URI. It writes the files it logs under ./artifact-inputs and
prints `artifacts run: <run_id>` so that the driver can read them back with `hone artifacts`."""

import filecmp
import json
import math
import os
import sys
import time

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main(uri):
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)

    # No experiment set: the client uses experiment "0", hone's Default experiment.
    with mlflow.start_run() as default_run:
        mlflow.log_metric("d", 1.0)
    default = client.get_experiment(default_run.info.experiment_id)
    check(default.name == "Default", f"default experiment {default.name!r}")

    # set_experiment: get-by-name (404) → create → get.
    exp = mlflow.set_experiment("client-workflow")
    check(exp.name == "client-workflow", f"experiment name {exp.name!r}")
    check(exp.lifecycle_stage == "active", "experiment active")
    # Again: found by name this time.
    check(mlflow.set_experiment("client-workflow").experiment_id == exp.experiment_id,
          "set_experiment finds the existing experiment")

    with mlflow.start_run(run_name="first") as run:
        run_id = run.info.run_id
        mlflow.log_param("p", 1)
        mlflow.log_params({"model": "lgbm", "depth": 6})
        for step, value in enumerate([0.3, 0.6, 0.9]):
            mlflow.log_metric("x", value, step=step)
        mlflow.log_metrics({"auc": 0.71, "loss": 0.25}, step=3)
        mlflow.log_metric("odd", float("nan"))
        mlflow.set_tag("stage", "cv")
        mlflow.set_tags({"team": "quant", "desk": "fx"})
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric("batch_m", 1.5, now, 0), Metric("batch_m", 2.5, now + 1, 1)],
            params=[Param("batch_p", "b")],
            tags=[RunTag("batch_t", "t")],
        )
        with mlflow.start_run(run_name="fold-1", nested=True) as child:
            child_id = child.info.run_id
            mlflow.log_metric("fold_auc", 0.6)

    with mlflow.start_run(run_name="second") as other:
        other_id = other.info.run_id
        mlflow.log_param("p", 2)
        mlflow.log_metric("x", 0.8)
    with mlflow.start_run(run_name="third") as third:
        third_id = third.info.run_id
        mlflow.log_param("p", 1)
        mlflow.log_metric("x", 0.4)

    # Read back one run, every value.
    got = client.get_run(run_id)
    check(got.info.status == "FINISHED", f"status {got.info.status}")
    check(got.info.run_name == "first", f"run name {got.info.run_name!r}")
    check(got.info.end_time is not None and got.info.end_time >= got.info.start_time,
          "end time set")
    check(got.data.params == {"p": "1", "model": "lgbm", "depth": "6", "batch_p": "b"},
          f"params {got.data.params}")
    m = got.data.metrics
    check(m["x"] == 0.9, f"latest x {m.get('x')}")
    check(m["auc"] == 0.71 and m["loss"] == 0.25, f"metrics {m}")
    check(math.isnan(m["odd"]), f"NaN round trip {m.get('odd')}")
    check(m["batch_m"] == 2.5, f"batch metric {m.get('batch_m')}")
    t = got.data.tags
    for k, v in {"stage": "cv", "team": "quant", "desk": "fx", "batch_t": "t",
                 "mlflow.runName": "first"}.items():
        check(t.get(k) == v, f"tag {k}: {t.get(k)!r}")

    nested = client.get_run(child_id)
    check(nested.data.tags.get("mlflow.parentRunId") == run_id, "nested run's parent tag")
    check(nested.info.status == "FINISHED", "nested run ended")

    hist = client.get_metric_history(run_id, "x")
    check([(p.step, p.value) for p in hist] == [(0, 0.3), (1, 0.6), (2, 0.9)],
          f"history {[(p.step, p.value) for p in hist]}")
    check(all(p.key == "x" and p.timestamp > 0 for p in hist), "history keys and times")
    batch_hist = client.get_metric_history(run_id, "batch_m")
    check([(p.step, p.value, p.timestamp) for p in batch_hist]
          == [(0, 1.5, now), (1, 2.5, now + 1)], "batch history with timestamps")

    # Search with MLflow's grammar and order_by.
    runs = client.search_runs([exp.experiment_id], "metrics.x > 0.5 and params.p = '1'",
                              order_by=["metrics.x DESC"])
    check([r.info.run_id for r in runs] == [run_id], f"filtered {[r.info.run_name for r in runs]}")
    runs = client.search_runs([exp.experiment_id], "params.p = '1'", order_by=["metrics.x ASC"])
    check([r.info.run_id for r in runs] == [third_id, run_id],
          f"ordered {[r.info.run_name for r in runs]}")
    runs = client.search_runs([exp.experiment_id], "", order_by=["metrics.x DESC"], max_results=2)
    check([r.info.run_id for r in runs] == [run_id, other_id], "page of 2")
    check(runs.token, "a next page token")
    rest = client.search_runs([exp.experiment_id], "", order_by=["metrics.x DESC"],
                              max_results=2, page_token=runs.token)
    # Runs without the sort key (the nested run has no x) come last.
    check([r.info.run_id for r in rest] == [third_id, child_id], "second page")

    # Experiments.
    exps = client.search_experiments()
    check([e.name for e in exps] == ["client-workflow", "Default"],
          f"experiments, newest first: {[e.name for e in exps]}")
    check(client.get_experiment_by_name("nope") is None, "missing experiment is None")

    # Tags, lifecycle.
    client.delete_tag(run_id, "desk")
    check("desk" not in client.get_run(run_id).data.tags, "tag deleted")
    client.delete_run(other_id)
    check(client.get_run(other_id).info.lifecycle_stage == "deleted", "run deleted")
    check(len(client.search_runs([exp.experiment_id])) == 3, "deleted run hidden")
    client.restore_run(other_id)
    check(len(client.search_runs([exp.experiment_id])) == 4, "restored")

    # Errors come back as MlflowException with MLflow's codes.
    try:
        client.log_param(run_id, "p", "changed")
        raise AssertionError("changing a param must fail")
    except mlflow.exceptions.MlflowException as e:
        check(e.error_code == "INVALID_PARAMETER_VALUE", f"error code {e.error_code}")
    try:
        client.get_run("0" * 32)
        raise AssertionError("an unknown run must fail")
    except mlflow.exceptions.MlflowException as e:
        check(e.error_code == "RESOURCE_DOES_NOT_EXIST", f"error code {e.error_code}")

    artifacts_run_id = artifacts(client)
    print(f"artifacts run: {artifacts_run_id}")
    logged_models(client, exp.experiment_id)
    print(f"mlflow {mlflow.__version__}: client workflow OK")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def artifacts(client):
    """log_artifact, log_artifacts (nested folders), log_text, log_dict; list_artifacts at the
    root and in folders; download_artifacts of a file and of a folder, bytes compared."""
    src = os.path.abspath("artifact-inputs")
    notes = os.path.join(src, "notes.txt")
    write(notes, b"notes\n\x00binary \xff\xfe end\n")
    tree = os.path.join(src, "tree")
    write(os.path.join(tree, "a.csv"), b"x,y\n1,2\n")
    write(os.path.join(tree, "sub", "b.json"), b'{"b": 1}')
    write(os.path.join(tree, "sub", "deeper", "c.bin"), bytes(range(256)) * 40)
    write(os.path.join(tree, "sub", "deeper", "empty.txt"), b"")

    with mlflow.start_run(run_name="artifacts") as run:
        run_id = run.info.run_id
        check(run.info.artifact_uri
              == f"mlflow-artifacts:/{run.info.experiment_id}/{run_id}/artifacts",
              f"artifact uri {run.info.artifact_uri}")
        mlflow.log_artifact(notes)
        mlflow.log_artifact(notes, artifact_path="docs")
        mlflow.log_artifacts(tree, artifact_path="tree")
        mlflow.log_text("hello from log_text\n", "text/out.txt")
        mlflow.log_dict({"lr": 0.05, "depth": 6}, "config/params.json")
        # Logging the same file again replaces it (an idempotent retry).
        mlflow.log_artifact(notes)

    def listing(path=None):
        return [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, path)]

    root = listing()
    check([p for p, _, _ in root] == ["config", "docs", "notes.txt", "text", "tree"],
          f"root listing {root}")
    check(("notes.txt", False, os.path.getsize(notes)) in root, f"file entry {root}")
    check(("tree", True, None) in root, f"dir entry {root}")
    check(listing("tree") == [("tree/a.csv", False, 8), ("tree/sub", True, None)],
          f"tree listing {listing('tree')}")
    check(listing("tree/sub/deeper") == [("tree/sub/deeper/c.bin", False, 256 * 40),
                                         ("tree/sub/deeper/empty.txt", False, 0)],
          f"nested listing {listing('tree/sub/deeper')}")
    check(listing("notes.txt") == [], "a file lists as nothing")
    check(listing("nothing-here") == [], "a missing folder lists as nothing")

    out = os.path.abspath("artifact-downloads")
    got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="docs/notes.txt",
                                              dst_path=os.path.join(out, "file"))
    with open(got, "rb") as f, open(notes, "rb") as g:
        check(f.read() == g.read(), "downloaded file bytes")
    got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="tree",
                                              dst_path=os.path.join(out, "dir"))
    cmp = filecmp.dircmp(tree, got)

    def same(c):
        return (not c.left_only and not c.right_only and not c.diff_files and not c.funny_files
                and all(same(sub) for sub in c.subdirs.values()))

    if not same(cmp):
        cmp.report_full_closure()
        raise AssertionError("the downloaded folder differs from the logged one")
    for rel in ["a.csv", "sub/b.json", "sub/deeper/c.bin", "sub/deeper/empty.txt"]:
        check(filecmp.cmp(os.path.join(tree, rel), os.path.join(got, rel), shallow=False),
              f"bytes of {rel}")
    got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="text/out.txt",
                                              dst_path=os.path.join(out, "text"))
    with open(got, encoding="utf-8") as f:
        check(f.read() == "hello from log_text\n", "log_text round trip")
    got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="config/params.json",
                                              dst_path=os.path.join(out, "dict"))
    with open(got, encoding="utf-8") as f:
        check(json.load(f) == {"lr": 0.05, "depth": 6}, "log_dict round trip")

    # A missing artifact is an error, not an empty file.
    try:
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="missing.txt",
                                            dst_path=os.path.join(out, "missing"))
        raise AssertionError("downloading a missing artifact must fail")
    except mlflow.exceptions.MlflowException:
        pass
    return run_id


class Doubler(mlflow.pyfunc.PythonModel):
    """A small custom pyfunc model: twice the first feature."""

    def predict(self, context, model_input, params=None):
        return model_input["f1"] * 2.0


def logged_models(client, exp_id):
    """MLflow 3 logged models: a LightGBM booster (mlflow.lightgbm.log_model) and a custom
    PythonModel (mlflow.pyfunc.log_model) logged from a run with a pandas dataset input; both
    loaded back through models:/<model_id> URIs with predictions equal to the in-memory
    models'; the run's outputs and inputs, get_logged_model and search_logged_models checked."""
    import lightgbm as lgb
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    x = pd.DataFrame({"f1": rng.normal(size=300), "f2": rng.normal(size=300),
                      "f3": rng.uniform(size=300)})
    y = 2.0 * x["f1"] - x["f2"] + 0.1 * rng.normal(size=300)
    params = {"objective": "regression", "num_leaves": 7, "learning_rate": 0.1, "verbose": -1,
              "seed": 1, "deterministic": True, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=20)
    expected = booster.predict(x)

    with mlflow.start_run(run_name="models") as run:
        run_id = run.info.run_id
        mlflow.log_param("num_leaves", 7)
        mlflow.log_metric("rmse", float(np.sqrt(np.mean((expected - y) ** 2))))
        dataset = mlflow.data.from_pandas(x.assign(y=y), name="train-set", targets="y")
        mlflow.log_input(dataset, context="training")
        info = mlflow.lightgbm.log_model(booster, name="model", input_example=x.head(3),
                                         pip_requirements=["lightgbm==4.7.0", "pandas"])
        doubler = mlflow.pyfunc.log_model(name="doubler", python_model=Doubler(),
                                          input_example=x.head(2), pip_requirements=["pandas"])

    for i in (info, doubler):
        check(i.model_id.startswith("m-") and len(i.model_id) == 34, f"model id {i.model_id}")
        check(i.model_uri == f"models:/{i.model_id}", f"model uri {i.model_uri}")

    # Loaded back through the server (logged-models/<id> + the mlflow-artifacts proxy).
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    check(np.allclose(np.asarray(loaded.predict(x)), expected, rtol=0, atol=1e-12),
          "pyfunc predictions of the LightGBM model")
    native = mlflow.lightgbm.load_model(info.model_uri)
    check(np.allclose(native.predict(x), expected, rtol=0, atol=1e-12),
          "lightgbm.load_model predictions")
    check(native.num_trees() == booster.num_trees(), "same number of trees")
    got = mlflow.pyfunc.load_model(doubler.model_uri).predict(x.head(5))
    check(np.allclose(np.asarray(got), (x["f1"].head(5) * 2.0).to_numpy()),
          "custom PythonModel predictions")

    # The run's outputs (runs/outputs) and inputs (runs/log-inputs) read back.
    r = client.get_run(run_id)
    outs = sorted((o.model_id, o.step) for o in r.outputs.model_outputs)
    check(outs == sorted([(info.model_id, 0), (doubler.model_id, 0)]), f"run outputs {outs}")
    ins = r.inputs.dataset_inputs
    check(len(ins) == 1, f"run inputs {ins}")
    d = ins[0].dataset
    check((d.name, d.digest, d.source_type) == ("train-set", dataset.digest, dataset.source.
          _get_source_type()), f"dataset {d.name} {d.digest} {d.source_type}")
    check(json.loads(d.profile).get("num_rows") == 300, f"dataset profile {d.profile}")
    check({t.key: t.value for t in ins[0].tags}.get("mlflow.data.context") == "training",
          f"dataset context {ins[0].tags}")
    found = client.search_runs([exp_id], f"attributes.run_id = '{run_id}'")
    check([o.model_id for o in found[0].outputs.model_outputs] != [],
          "search_runs returns outputs")

    # The logged models themselves.
    lm = client.get_logged_model(info.model_id)
    check(str(lm.status).endswith("READY"), f"status {lm.status}")
    check((lm.name, lm.source_run_id, lm.experiment_id) == ("model", run_id, exp_id),
          f"model {lm.name} {lm.source_run_id} {lm.experiment_id}")
    check(lm.artifact_location
          == f"mlflow-artifacts:/{exp_id}/models/{info.model_id}/artifacts",
          f"artifact location {lm.artifact_location}")
    check(lm.params.get("num_leaves") == "7", f"params copied from the run {lm.params}")
    names = sorted(f.path for f in client.list_logged_model_artifacts(info.model_id))
    check("MLmodel" in names and "model.lgb" in names, f"model files {names}")
    found = client.search_logged_models(experiment_ids=[exp_id], filter_string="name = 'model'")
    check([m.model_id for m in found] == [info.model_id], f"search by name {found}")
    found = client.search_logged_models(
        experiment_ids=[exp_id], filter_string=f"source_run_id = '{run_id}'",
        order_by=[{"field_name": "creation_timestamp", "ascending": True}])
    check([m.model_id for m in found] == [info.model_id, doubler.model_id],
          f"search by run, oldest first {[m.name for m in found]}")
    page = client.search_logged_models(experiment_ids=[exp_id], max_results=1)
    check(len(page) == 1 and page.token, "a page of one and a token")
    rest = client.search_logged_models(experiment_ids=[exp_id], max_results=1,
                                       page_token=page.token)
    check(len(rest) == 1 and rest[0].model_id != page[0].model_id, "the second page")
    client.set_logged_model_tags(info.model_id, {"desk": "fx"})
    check(client.get_logged_model(info.model_id).tags.get("desk") == "fx", "model tag")
    client.delete_logged_model_tag(info.model_id, "desk")
    check("desk" not in client.get_logged_model(info.model_id).tags, "model tag deleted")
    try:
        client.get_logged_model("m-" + "0" * 32)
        raise AssertionError("an unknown logged model must fail")
    except mlflow.exceptions.MlflowException as e:
        check(e.error_code == "RESOURCE_DOES_NOT_EXIST", f"error code {e.error_code}")
    print(f"logged models OK: {info.model_id} {doubler.model_id}")
    registered(client, exp_id, booster, x, expected)


def registered(client, exp_id, booster, x, expected):
    """The registry as a training script uses it: log_model with registered_model_name
    (registered-models/create, model-versions/create from the logged model), an alias, the
    deprecated stages, and mlflow.pyfunc.load_model("models:/NAME@alias") back through
    get-download-uri and the artifact proxy, predictions equal."""
    import numpy as np

    name = "quant-lgbm"
    with mlflow.start_run(run_name="register") as run:
        first = mlflow.lightgbm.log_model(booster, name="model", registered_model_name=name,
                                          pip_requirements=["lightgbm==4.7.0"])
    check(str(first.registered_model_version) == "1", f"version {first.registered_model_version}")
    with mlflow.start_run(run_name="register-again"):
        second = mlflow.lightgbm.log_model(booster, name="model", registered_model_name=name,
                                           pip_requirements=["lightgbm==4.7.0"])
    check(str(second.registered_model_version) == "2", f"version {second.registered_model_version}")
    v1 = client.get_model_version(name, "1")
    check((v1.run_id, v1.source) == (run.info.run_id, f"models:/{first.model_id}"),
          f"version 1 lineage {v1.run_id} {v1.source}")
    check(v1.status == "READY", f"status {v1.status}")
    check(client.get_model_version_download_uri(name, "1")
          == f"mlflow-artifacts:/{exp_id}/models/{first.model_id}/artifacts",
          "download uri is the logged model's artifacts")

    client.set_registered_model_alias(name, "champion", "1")
    client.set_model_version_tag(name, "1", "validation_status", "approved")
    by_alias = client.get_model_version_by_alias(name, "champion")
    check(by_alias.version == "1" and by_alias.tags.get("validation_status") == "approved",
          f"alias {by_alias.version} {by_alias.tags}")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    check(np.allclose(np.asarray(loaded.predict(x)), expected, rtol=0, atol=1e-12),
          "predictions of models:/NAME@alias")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/2")
    check(np.allclose(np.asarray(loaded.predict(x)), expected, rtol=0, atol=1e-12),
          "predictions of models:/NAME/VERSION")

    # Deprecated stages still work: None -> Production in one call (hone walks its matrix
    # through Staging), then version 2 replaces it with archive_existing_versions.
    mv = client.transition_model_version_stage(name, "1", "Production")
    check(mv.current_stage == "Production", f"stage {mv.current_stage}")
    client.transition_model_version_stage(name, "2", "Production",
                                          archive_existing_versions=True)
    stages = {v.version: v.current_stage for v in client.search_model_versions(f"name = '{name}'")}
    check(stages == {"1": "Archived", "2": "Production"}, f"stages {stages}")
    latest = client.get_latest_versions(name, stages=["Production"])
    check([v.version for v in latest] == ["2"], f"latest production {latest}")
    models = client.search_registered_models("name LIKE 'quant%'")
    check([m.name for m in models] == [name], f"registered models {models}")
    print(f"registry OK: {name} v1 v2")


if __name__ == "__main__":
    main(sys.argv[1])
