// The store suite's cases, shared by `store_suite.rs` (SQLite and PostgreSQL) and
// `hone-server`'s `store_over_http.rs` (the same cases through `hone server`), each with its
// own `Target`.
use std::time::Duration;

use hone_track::liveness::hostname;
use hone_track::store::{Batch, NewRun, SearchRequest, TRIAL_RECORD_TAG, TRIAL_STATE_TAG};
use hone_track::{
    ArtifactRecord, Backend, DatasetInput, Lease, LeaseHolder, LeaseKeeper, Lifecycle, Metric,
    MetricPoint, NewEvent, NewModelVersion, RunStatus, Stage, Store, TrackError, Transition,
    ViewType, search_all,
};
use hone_track::{
    LoggedModel, LoggedModelMetric, LoggedModelSearch, LoggedModelStatus, NewLoggedModel,
};

use hone_test_support::on_both_backends;

on_both_backends!(
    experiments_have_unique_names_and_can_be_renamed_deleted_and_restored,
    runs_nest_and_carry_params_metrics_and_tags,
    tags_are_deleted_by_key_and_a_missing_one_is_named,
    params_are_immutable_and_a_refused_batch_writes_nothing,
    replayed_metric_points_are_stored_once,
    experiment_tags_are_set_replaced_and_deleted,
    runs_are_renamed_with_their_run_name_tag,
    bad_keys_and_missing_runs_are_refused,
    search_filters_and_orders,
    search_pages_and_refuses_bad_requests,
    search_all_crosses_page_boundaries,
    datasets_are_recorded_and_searchable,
    artifacts_are_recorded_and_referenced,
    deleted_runs_are_hidden_refuse_writes_and_purge,
    delete_and_restore_cascade_to_child_runs,
    a_cascade_with_a_missing_run_changes_nothing,
    runs_of_a_live_owner_and_ended_runs_are_not_reaped,
    an_expired_lease_is_reaped_whatever_its_host,
    a_heartbeat_renews_a_lease,
    a_lease_keeper_renews_until_dropped,
    a_server_owns_runs_for_its_clients,
    a_gone_holder_on_this_machine_is_reaped_at_once,
    a_reaped_trial_reads_as_failed,
    counters_count_from_zero_per_name,
    concurrent_counters_never_repeat,
    queued_runs_are_claimed_once_and_unowned_runs_never_reaped,
    transition_is_a_compare_and_set_with_one_winner,
    reopening_keeps_the_data,
    registered_models_are_unique_listed_by_prefix_and_deleted,
    version_numbers_count_up_and_are_never_reused,
    concurrent_registrations_get_one_to_eight,
    semvers_must_be_valid_and_increase,
    aliases_follow_mlflow_rules_and_pin_their_version,
    stage_changes_are_compare_and_set_and_audited,
    callers_append_events_but_never_store_actions,
    versions_are_found_by_the_run_they_pin,
    retention_purge_and_gc_never_touch_a_pinned_run,
    versions_carry_source_run_link_and_storage_location,
    a_model_is_renamed_with_its_versions_tags_and_aliases,
    descriptions_of_models_and_versions_are_updated,
    mlflow_transitions_walk_the_matrix_step_by_step,
    logged_models_are_created_finalized_tagged_and_searched,
    logged_model_artifacts_and_run_outputs_are_recorded,
    gc_keeps_logged_model_blobs_until_the_model_is_purged,
    a_logged_model_a_live_version_pins_is_never_deleted_or_purged,
);

fn metric(key: &str, value: f64, step: i64, timestamp: i64) -> Metric {
    Metric {
        key: key.into(),
        point: MetricPoint {
            value,
            timestamp,
            step,
        },
    }
}

fn kv(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn new_run(store: &dyn Store, exp: &str, name: &str, parent: Option<&str>) -> String {
    store
        .create_run(NewRun {
            experiment_id: exp.into(),
            name: Some(name.into()),
            parent_run_id: parent.map(str::to_string),
            user_id: Some("tester".into()),
            tags: vec![],
            ..Default::default()
        })
        .unwrap()
        .run_id
}

/// A RUNNING run owned by `lease`.
fn owned_run(store: &dyn Store, exp: &str, name: &str, lease: &Lease) -> String {
    store
        .create_run(NewRun {
            experiment_id: exp.into(),
            name: Some(name.into()),
            owner: Some(lease.clone()),
            ..Default::default()
        })
        .unwrap()
        .run_id
}

fn lease(id: &str, ttl_ms: i64, holder: Option<LeaseHolder>) -> Lease {
    Lease {
        id: id.into(),
        ttl_ms,
        holder,
    }
}

/// A holder on another machine (its pid cannot be checked from here).
fn elsewhere() -> Option<LeaseHolder> {
    Some(LeaseHolder {
        host: format!("not-{}", hostname()),
        pid: 1,
        process_start: None,
    })
}

/// Waits until every lease of `ttl_ms` given before this call has expired.
fn outlive(ttl_ms: i64) {
    std::thread::sleep(Duration::from_millis(ttl_ms as u64 + 20));
}

fn status(store: &dyn Store, run: &str) -> RunStatus {
    store.get_run(run).unwrap().info.status
}

fn search(store: &dyn Store, exp: &str, filter: &str, order: &[&str]) -> Vec<String> {
    store
        .search_runs(&SearchRequest {
            experiment_ids: vec![exp.into()],
            filter: filter.into(),
            order_by: order.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .unwrap()
        .0
        .into_iter()
        .map(|r| r.info.run_name)
        .collect()
}

/// Experiment `suite`: a parent run `job` and three child runs `fold-1..3` with metrics
/// (auc 0.7, 0.55, 0.61 at step 5; loss NaN and inf), params (model lgbm, lgbm, ridge) and a
/// tag.
struct Folds {
    exp: String,
    parent: String,
    a: String,
    b: String,
    c: String,
}

fn batch(run: &str, auc: f64, model: &str) -> Batch {
    Batch {
        run_id: run.into(),
        metrics: vec![
            metric("auc", 0.1, 0, 1),
            metric("auc", auc, 5, 2),
            metric("loss", f64::NAN, 1, 3),
            metric("loss", f64::INFINITY, 0, 4),
        ],
        params: vec![kv("model", model), kv("lr", "0.1")],
        tags: vec![kv("stage", "cv")],
    }
}

fn folds(store: &dyn Store) -> Folds {
    let exp = store
        .create_experiment("suite", &[kv("team", "quant")])
        .unwrap();
    let parent = new_run(store, &exp, "job", None);
    let a = new_run(store, &exp, "fold-1", Some(&parent));
    let b = new_run(store, &exp, "fold-2", Some(&parent));
    let c = new_run(store, &exp, "fold-3", Some(&parent));
    store
        .log_batches(&[
            batch(&a, 0.7, "lgbm"),
            batch(&b, 0.55, "lgbm"),
            batch(&c, 0.61, "ridge"),
        ])
        .unwrap();
    Folds {
        exp,
        parent,
        a,
        b,
        c,
    }
}

fn experiments_have_unique_names_and_can_be_renamed_deleted_and_restored(t: &Target) {
    let store = t.store();
    let exp = store
        .create_experiment("suite", &[kv("team", "quant")])
        .unwrap();
    assert!(matches!(
        store.create_experiment("suite", &[]),
        Err(TrackError::Invalid(m)) if m.contains("already exists")
    ));
    let other = store.get_or_create_experiment("other").unwrap();
    assert_eq!(store.get_or_create_experiment("other").unwrap(), other);
    store.rename_experiment(&other, "renamed").unwrap();
    assert!(store.rename_experiment(&other, "suite").is_err());
    assert_eq!(store.get_experiment(&other).unwrap().name, "renamed");
    store
        .set_experiment_lifecycle(&other, Lifecycle::Deleted)
        .unwrap();
    assert_eq!(
        store.list_experiments(ViewType::ActiveOnly).unwrap().len(),
        1
    );
    assert_eq!(
        store.list_experiments(ViewType::DeletedOnly).unwrap().len(),
        1
    );
    store
        .set_experiment_lifecycle(&other, Lifecycle::Active)
        .unwrap();
    assert_eq!(
        store.get_experiment(&exp).unwrap().tags,
        vec![kv("team", "quant")]
    );
    assert!(matches!(
        store.get_experiment("999"),
        Err(TrackError::NotFound(_))
    ));
}

fn runs_nest_and_carry_params_metrics_and_tags(t: &Target) {
    let store = t.store();
    let f = folds(store);
    assert_eq!(store.child_runs(&f.parent).unwrap().len(), 3);
    let run = store.get_run(&f.a).unwrap();
    assert_eq!(run.params, vec![kv("lr", "0.1"), kv("model", "lgbm")]);
    let auc = run.metrics.iter().find(|m| m.key == "auc").unwrap();
    assert_eq!(
        (auc.point.value, auc.point.step),
        (0.7, 5),
        "latest = highest step"
    );
    let loss = run.metrics.iter().find(|m| m.key == "loss").unwrap();
    assert!(loss.point.value.is_nan(), "NaN is kept as NaN");
    let hist = store.metric_history(&f.a, "loss").unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[0].value, f64::INFINITY);
    assert!(run.tags.contains(&kv("mlflow.runName", "fold-1")));
    assert!(run.tags.contains(&kv("mlflow.parentRunId", &f.parent)));
    assert!(run.tags.contains(&kv("stage", "cv")));
}

fn tags_are_deleted_by_key_and_a_missing_one_is_named(t: &Target) {
    let store = t.store();
    let f = folds(store);
    store.delete_tag(&f.a, "stage").unwrap();
    let run = store.get_run(&f.a).unwrap();
    assert!(!run.tags.iter().any(|(k, _)| k == "stage"));
    // The sibling keeps its tag: the delete names one run.
    assert!(
        store
            .get_run(&f.b)
            .unwrap()
            .tags
            .contains(&kv("stage", "cv"))
    );
    let err = store.delete_tag(&f.a, "stage").unwrap_err();
    assert!(matches!(err, TrackError::NotFound(_)), "{err}");
    assert!(err.to_string().contains("stage"), "{err}");
    let err = store.delete_tag("nope", "stage").unwrap_err();
    assert!(matches!(err, TrackError::NotFound(_)), "{err}");
}

fn params_are_immutable_and_a_refused_batch_writes_nothing(t: &Target) {
    let store = t.store();
    let f = folds(store);
    // The same param value again is fine, another value is refused and nothing of the batch
    // lands. (The replayed batch's points are already stored: they are not stored twice.)
    store.log_batches(&[batch(&f.a, 0.7, "lgbm")]).unwrap();
    assert_eq!(store.metric_history(&f.a, "loss").unwrap().len(), 2);
    let e = store
        .log_batches(&[Batch {
            run_id: f.a.clone(),
            params: vec![kv("model", "xgb")],
            metrics: vec![metric("auc", 0.99, 9, 9)],
            ..Default::default()
        }])
        .unwrap_err()
        .to_string();
    assert!(e.contains("params cannot change"), "{e}");
    let run = store.get_run(&f.a).unwrap();
    assert_eq!(run.params, vec![kv("lr", "0.1"), kv("model", "lgbm")]);
    assert_eq!(store.metric_history(&f.a, "auc").unwrap().len(), 2);
}

fn replayed_metric_points_are_stored_once(t: &Target) {
    let store = t.store();
    let f = folds(store);
    // A client retrying a request (MLflow's retries every POST on 5xx) sends the same points
    // again, NaN included, possibly twice within one batch: each point is stored once.
    let replay = Batch {
        run_id: f.a.clone(),
        metrics: vec![
            metric("auc", 0.1, 0, 1),
            metric("auc", 0.1, 0, 1),
            metric("loss", f64::NAN, 1, 3),
        ],
        ..Default::default()
    };
    store.log_batches(&[replay.clone(), replay]).unwrap();
    assert_eq!(store.metric_history(&f.a, "auc").unwrap().len(), 2);
    assert_eq!(store.metric_history(&f.a, "loss").unwrap().len(), 2);
    // A point differing in value, step or timestamp alone is a new point.
    store
        .log_batches(&[Batch {
            run_id: f.a.clone(),
            metrics: vec![
                metric("auc", 0.2, 0, 1),
                metric("auc", 0.1, 1, 1),
                metric("auc", 0.1, 0, 2),
                metric("loss", 0.0, 1, 3),
            ],
            ..Default::default()
        }])
        .unwrap();
    assert_eq!(store.metric_history(&f.a, "auc").unwrap().len(), 5);
    assert_eq!(store.metric_history(&f.a, "loss").unwrap().len(), 3);
    // Another run's identical point is its own.
    assert_eq!(store.metric_history(&f.b, "auc").unwrap().len(), 2);
}

fn bad_keys_and_missing_runs_are_refused(t: &Target) {
    let store = t.store();
    let f = folds(store);
    assert!(store.get_run("nope").is_err());
    assert!(
        store
            .log_batches(&[Batch {
                run_id: f.a.clone(),
                metrics: vec![metric("../x", 1.0, 0, 0)],
                ..Default::default()
            }])
            .is_err()
    );
}

fn search_filters_and_orders(t: &Target) {
    let store = t.store();
    let Folds { exp, a, c, .. } = folds(store);
    assert_eq!(
        search(store, &exp, "metrics.auc > 0.6", &["metrics.auc DESC"]),
        ["fold-1", "fold-3"]
    );
    assert_eq!(
        search(store, &exp, "params.model = 'lgbm'", &["metrics.auc ASC"]),
        ["fold-2", "fold-1"]
    );
    assert_eq!(
        search(store, &exp, "params.model != 'lgbm'", &[]),
        ["fold-3"]
    );
    assert_eq!(
        search(
            store,
            &exp,
            "tags.`mlflow.runName` LIKE 'fold-%' AND metrics.auc <= 0.61",
            &["attributes.run_name"]
        ),
        ["fold-2", "fold-3"]
    );
    assert_eq!(
        search(store, &exp, "tags.`mlflow.runName` LIKE 'FOLD-%'", &[]).len(),
        0,
        "LIKE is case-sensitive"
    );
    assert_eq!(
        search(store, &exp, "tags.`mlflow.runName` ILIKE 'FOLD-%'", &[]).len(),
        3
    );
    assert_eq!(search(store, &exp, "params.model IS NULL", &[]), ["job"]);
    assert_eq!(
        search(
            store,
            &exp,
            &format!("attributes.run_id IN ('{a}', '{c}')"),
            &["run_name DESC"]
        ),
        ["fold-3", "fold-1"]
    );
    // Runs without the sort key come last, whatever the direction.
    for order in ["metrics.auc DESC", "metrics.auc ASC"] {
        assert_eq!(search(store, &exp, "", &[order]).last().unwrap(), "job");
    }
}

fn search_pages_and_refuses_bad_requests(t: &Target) {
    let store = t.store();
    let f = folds(store);
    let req = SearchRequest {
        experiment_ids: vec![f.exp.clone()],
        order_by: vec!["attributes.run_name ASC".into()],
        max_results: 3,
        ..Default::default()
    };
    let (page1, token) = store.search_runs(&req).unwrap();
    assert_eq!(page1.len(), 3);
    let (page2, token2) = store
        .search_runs(&SearchRequest {
            page_token: token,
            ..req.clone()
        })
        .unwrap();
    assert_eq!(
        page2
            .iter()
            .map(|r| r.info.run_name.as_str())
            .collect::<Vec<_>>(),
        ["job"]
    );
    assert!(token2.is_none());
    let e = store
        .search_runs(&SearchRequest {
            filter: "metrics.auc > 'x'".into(),
            ..req.clone()
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("character 13"), "{e}");
    assert!(
        store
            .search_runs(&SearchRequest {
                page_token: Some("garbage".into()),
                ..req.clone()
            })
            .is_err()
    );
    for bad in [0, 50_001] {
        assert!(
            store
                .search_runs(&SearchRequest {
                    max_results: bad,
                    ..req.clone()
                })
                .is_err()
        );
    }
}

fn search_all_crosses_page_boundaries(t: &Target) {
    let store = t.store();
    let exp = store.create_experiment("many", &[]).unwrap();
    for i in 0..7 {
        let run = new_run(store, &exp, &format!("run-{i}"), None);
        store
            .log_batches(&[Batch {
                run_id: run,
                metrics: vec![metric("m", f64::from(i % 3), 0, 0)],
                ..Default::default()
            }])
            .unwrap();
    }
    let request = |max_results| SearchRequest {
        experiment_ids: vec![exp.clone()],
        order_by: vec!["metrics.m DESC".into()],
        max_results,
        ..Default::default()
    };
    let one_page: Vec<String> = store
        .search_runs(&request(50_000))
        .unwrap()
        .0
        .into_iter()
        .map(|r| r.info.run_id)
        .collect();
    assert_eq!(one_page.len(), 7);
    // Pages of 2 and 3 (the last one short), and of exactly the number of runs: the same runs,
    // in the same order.
    for page in [2, 3, 7] {
        let all: Vec<String> = search_all(store, request(page))
            .map(|r| r.unwrap().info.run_id)
            .collect();
        assert_eq!(all, one_page, "pages of {page}");
    }
    // An error is yielded once, then the iteration ends.
    let mut bad = search_all(
        store,
        SearchRequest {
            filter: "metrics.m >".into(),
            ..request(2)
        },
    );
    assert!(bad.next().unwrap().is_err());
    assert!(bad.next().is_none());
}

fn datasets_are_recorded_and_searchable(t: &Target) {
    let store = t.store();
    let f = folds(store);
    let ds = DatasetInput {
        name: "prices".into(),
        digest: "abc123".into(),
        source: "/data/prices.csv".into(),
        schema: "{\"close\":\"f64\"}".into(),
        rows: 10,
        context: "train".into(),
        source_type: "local".into(),
        profile: "{\"num_rows\": 10}".into(),
    };
    store
        .log_inputs(&f.parent, std::slice::from_ref(&ds))
        .unwrap();
    store
        .log_inputs(
            &f.a,
            &[
                ds.clone(),
                DatasetInput {
                    context: "test".into(),
                    ..ds.clone()
                },
            ],
        )
        .unwrap();
    assert_eq!(store.run_inputs(&f.a).unwrap().len(), 2);
    let all = store
        .inputs_of_runs(&[f.a.clone(), f.parent.clone(), "nope".into()])
        .unwrap();
    let mut runs: Vec<&str> = all.iter().map(|(r, _)| r.as_str()).collect();
    runs.dedup();
    let mut want = vec![f.a.as_str(), f.parent.as_str()];
    want.sort();
    assert_eq!((all.len(), runs), (3, want));
    // MLflow's fields and free-form contexts come back as given.
    store
        .log_inputs(
            &f.b,
            &[DatasetInput {
                context: "training".into(),
                ..ds.clone()
            }],
        )
        .unwrap();
    assert_eq!(
        store.run_inputs(&f.b).unwrap(),
        vec![DatasetInput {
            context: "training".into(),
            ..ds.clone()
        }]
    );
    assert_eq!(
        search(
            store,
            &f.exp,
            "datasets.digest = 'abc123' AND datasets.context = 'test'",
            &[]
        ),
        ["fold-1"]
    );
    assert!(
        store
            .log_inputs(
                &f.a,
                &[DatasetInput {
                    context: "two\nlines".into(),
                    ..ds
                }]
            )
            .is_err()
    );
}

fn artifacts_are_recorded_and_referenced(t: &Target) {
    let store = t.store();
    let f = folds(store);
    let art = ArtifactRecord {
        path: "model/model.txt".into(),
        sha256: "ab".repeat(32),
        size: 3,
    };
    store.record_artifact(&f.parent, &art).unwrap();
    assert_eq!(store.list_artifacts(&f.parent).unwrap(), vec![art.clone()]);
    assert!(
        store
            .record_artifact(
                &f.parent,
                &ArtifactRecord {
                    path: "../x".into(),
                    ..art.clone()
                }
            )
            .is_err()
    );
    assert!(store.referenced_blobs().unwrap().contains(&art.sha256));
    // Deleting removes the record only (exact path), and says whether there was one.
    assert!(!store.delete_artifact(&f.parent, "model").unwrap());
    assert!(store.delete_artifact(&f.parent, "model/model.txt").unwrap());
    assert!(!store.delete_artifact(&f.parent, "model/model.txt").unwrap());
    assert!(store.list_artifacts(&f.parent).unwrap().is_empty());
    assert!(store.delete_artifact("nope", "x").is_err());
}

fn deleted_runs_are_hidden_refuse_writes_and_purge(t: &Target) {
    let store = t.store();
    let Folds { exp, b, c, .. } = folds(store);
    store.end_run(&b, RunStatus::Finished).unwrap();
    assert_eq!(
        search(store, &exp, "attributes.status = 'FINISHED'", &[]),
        ["fold-2"]
    );
    store.set_run_lifecycle(&b, Lifecycle::Deleted).unwrap();
    assert!(!search(store, &exp, "", &[]).contains(&"fold-2".to_string()));
    let deleted = store
        .search_runs(&SearchRequest {
            experiment_ids: vec![exp.clone()],
            view: ViewType::DeletedOnly,
            ..Default::default()
        })
        .unwrap()
        .0;
    assert_eq!(deleted.len(), 1);
    assert!(
        store
            .log_batches(&[Batch {
                run_id: b.clone(),
                metrics: vec![metric("x", 1.0, 0, 0)],
                ..Default::default()
            }])
            .is_err(),
        "deleted runs refuse writes"
    );
    store.set_run_lifecycle(&b, Lifecycle::Active).unwrap();
    store.set_run_lifecycle(&c, Lifecycle::Deleted).unwrap();
    assert_eq!(store.purge_deleted_runs(0).unwrap(), vec![c.clone()]);
    assert!(store.get_run(&c).is_err());
    assert!(store.get_run(&b).is_ok());
}

fn lifecycles(store: &dyn Store, runs: &[&str]) -> Vec<Lifecycle> {
    runs.iter()
        .map(|r| store.get_run(r).unwrap().info.lifecycle)
        .collect()
}

fn delete_and_restore_cascade_to_child_runs(t: &Target) {
    let store = t.store();
    let f = folds(store);
    let other = new_run(store, &f.exp, "other", None);
    let all = [
        f.parent.as_str(),
        f.a.as_str(),
        f.b.as_str(),
        f.c.as_str(),
        other.as_str(),
    ];
    let n = store
        .set_runs_lifecycle_cascade(&[f.parent.clone(), other.clone()], Lifecycle::Deleted)
        .unwrap();
    assert_eq!(n, 5, "two runs and three children");
    assert_eq!(lifecycles(store, &all), vec![Lifecycle::Deleted; 5]);
    // Restoring a child alone leaves its parent deleted; restoring the parent restores all.
    store
        .set_runs_lifecycle_cascade(std::slice::from_ref(&f.a), Lifecycle::Active)
        .unwrap();
    assert_eq!(
        store.get_run(&f.parent).unwrap().info.lifecycle,
        Lifecycle::Deleted
    );
    assert_eq!(
        store
            .set_runs_lifecycle_cascade(&[f.parent.clone(), other.clone()], Lifecycle::Active)
            .unwrap(),
        5
    );
    assert_eq!(lifecycles(store, &all), vec![Lifecycle::Active; 5]);
    assert_eq!(
        store
            .set_runs_lifecycle_cascade(&[], Lifecycle::Deleted)
            .unwrap(),
        0
    );
    // Retention deletes its planned runs through the same cascade.
    let policy = hone_track::retention::Policy {
        keep_last: Some(0),
        older_than_days: None,
    };
    store.end_run(&other, RunStatus::Finished).unwrap();
    let plan = hone_track::retention::plan(store, &f.exp, &policy).unwrap();
    assert_eq!(plan.len(), 1, "running runs are never selected: {plan:?}");
    store.end_run(&f.parent, RunStatus::Finished).unwrap();
    let plan = hone_track::retention::plan(store, &f.exp, &policy).unwrap();
    assert_eq!(plan.len(), 2);
    assert_eq!(hone_track::retention::apply(store, &plan).unwrap(), 5);
    assert_eq!(lifecycles(store, &all), vec![Lifecycle::Deleted; 5]);
}

fn a_cascade_with_a_missing_run_changes_nothing(t: &Target) {
    let store = t.store();
    let f = folds(store);
    let e = store
        .set_runs_lifecycle_cascade(
            &[f.parent.clone(), "no-such-run".into()],
            Lifecycle::Deleted,
        )
        .unwrap_err();
    assert!(
        matches!(&e, TrackError::NotFound(m) if m == "run no-such-run"),
        "{e}"
    );
    assert_eq!(
        lifecycles(store, &[&f.parent, &f.a, &f.b, &f.c]),
        vec![Lifecycle::Active; 4],
        "the parent and children changed before the missing run were rolled back"
    );
}

fn runs_of_a_live_owner_and_ended_runs_are_not_reaped(t: &Target) {
    let store = t.store();
    let exp = store.create_experiment("live", &[]).unwrap();
    let mine = Lease::for_this_process();
    let running = owned_run(store, &exp, "running", &mine);
    let ended = owned_run(store, &exp, "ended", &lease("short", 1, elsewhere()));
    store.end_run(&ended, RunStatus::Finished).unwrap();
    outlive(1);
    assert!(t.open().reap().unwrap().is_empty());
    assert_eq!(status(store, &running), RunStatus::Running);
    assert_eq!(status(store, &ended), RunStatus::Finished);
}

fn an_expired_lease_is_reaped_whatever_its_host(t: &Target) {
    let store = t.store();
    let exp = store.create_experiment("expiry", &[]).unwrap();
    // A holder elsewhere, and this very process: alive, but it let its lease lapse.
    let remote = owned_run(store, &exp, "remote", &lease("remote", 1, elsewhere()));
    let here = Lease {
        ttl_ms: 1,
        ..Lease::for_this_process()
    };
    let local = owned_run(store, &exp, "local", &here);
    let fresh = owned_run(store, &exp, "fresh", &lease("fresh", 600_000, elsewhere()));
    outlive(1);
    let before = hone_track::now_ms();
    let mut reaped = t.open().reap().unwrap();
    reaped.sort();
    let mut want = vec![remote.clone(), local.clone()];
    want.sort();
    assert_eq!(reaped, want);
    let r = store.get_run(&remote).unwrap().info;
    assert_eq!(r.status, RunStatus::Killed);
    assert!(
        r.end_time.is_some_and(|e| e <= before),
        "ends at its last renewal"
    );
    assert_eq!(status(store, &local), RunStatus::Killed);
    assert_eq!(status(store, &fresh), RunStatus::Running);
    assert!(store.reap().unwrap().is_empty(), "reaped once");
}

fn a_heartbeat_renews_a_lease(t: &Target) {
    let store = t.store();
    let exp = store.create_experiment("renewal", &[]).unwrap();
    let renewed = lease("renewed", 1, elsewhere());
    let lapsed = lease("lapsed", 1, elsewhere());
    let kept = owned_run(store, &exp, "kept", &renewed);
    let lost = owned_run(store, &exp, "lost", &lapsed);
    let ended = owned_run(store, &exp, "ended", &renewed);
    store.end_run(&ended, RunStatus::Finished).unwrap();
    outlive(1);
    // Both leases have expired; renewing one (now for 10 minutes) brings its runs back.
    let owned = store
        .heartbeat(&Lease {
            ttl_ms: 600_000,
            ..renewed
        })
        .unwrap();
    assert_eq!(owned, 1, "RUNNING runs only");
    assert_eq!(store.heartbeat(&lease("nobody", 1, None)).unwrap(), 0);
    assert_eq!(t.open().reap().unwrap(), vec![lost]);
    assert_eq!(status(store, &kept), RunStatus::Running);
    assert_eq!(status(store, &ended), RunStatus::Finished);
}

fn a_lease_keeper_renews_until_dropped(t: &Target) {
    let store: std::sync::Arc<dyn Backend> = std::sync::Arc::from(t.open());
    let exp = store.create_experiment("keeper", &[]).unwrap();
    // Renewed every 500 ms; three lease lengths pass without a reap.
    let keeper = LeaseKeeper::with_lease(
        store.clone(),
        lease("kept", 1_500, LeaseHolder::this_process().into()),
    );
    let run = owned_run(store.as_ref(), &exp, "kept", keeper.lease().unwrap());
    std::thread::sleep(Duration::from_millis(4_500));
    assert!(t.store().reap().unwrap().is_empty());
    drop(keeper);
    // Without renewals the lease lapses, though this process is alive.
    outlive(2_500);
    assert_eq!(t.store().reap().unwrap(), vec![run]);
}

fn a_server_owns_runs_for_its_clients(t: &Target) {
    // A server process creates runs on behalf of two clients, one lease per client (ids of its
    // choosing, no holder process), and renews a lease when its client checks in.
    let server = t.store();
    let exp = server.create_experiment("served", &[]).unwrap();
    let client = |id: &str| lease(id, 1, None);
    let a1 = owned_run(server, &exp, "a-1", &client("client-a"));
    let a2 = owned_run(server, &exp, "a-2", &client("client-a"));
    let b1 = owned_run(server, &exp, "b-1", &client("client-b"));
    outlive(1);
    // Client A checks in; client B has gone away. The server itself stays alive throughout:
    // being the process that wrote the runs does not keep B's alive.
    assert_eq!(
        server
            .heartbeat(&Lease {
                ttl_ms: 600_000,
                ..client("client-a")
            })
            .unwrap(),
        2
    );
    assert_eq!(t.open().reap().unwrap(), vec![b1.clone()]);
    assert_eq!(status(server, &a1), RunStatus::Running);
    assert_eq!(status(server, &a2), RunStatus::Running);
    assert_eq!(status(server, &b1), RunStatus::Killed);
    // A queued run handed to a client is claimed under that client's lease.
    let queued = server
        .create_run(NewRun {
            experiment_id: exp.clone(),
            status: Some(RunStatus::Scheduled),
            ..Default::default()
        })
        .unwrap()
        .run_id;
    let c = client("client-c");
    assert!(
        server
            .claim_run(&queued, RunStatus::Scheduled, RunStatus::Running, Some(&c))
            .unwrap()
    );
    outlive(1);
    assert_eq!(server.reap().unwrap(), vec![queued]);
}

fn a_gone_holder_on_this_machine_is_reaped_at_once(t: &Target) {
    let store = t.store();
    let exp = store.create_experiment("gone", &[]).unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let holder = |host: String| {
        Some(LeaseHolder {
            host,
            pid,
            process_start: None,
        })
    };
    // Long leases: only the holder's death can end the first one now. The same pid on another
    // machine proves nothing here.
    let dead = owned_run(
        store,
        &exp,
        "dead",
        &lease("dead", 600_000, holder(hostname())),
    );
    let remote = owned_run(
        store,
        &exp,
        "remote",
        &lease("remote", 600_000, holder(format!("not-{}", hostname()))),
    );
    assert_eq!(t.open().reap().unwrap(), vec![dead.clone()]);
    assert_eq!(status(store, &dead), RunStatus::Killed);
    assert_eq!(status(store, &remote), RunStatus::Running);
}

fn a_reaped_trial_reads_as_failed(t: &Target) {
    let store = t.store();
    let exp = store.create_experiment("study", &[]).unwrap();
    let record = r#"{"number":0,"state":"RUNNING","params":{}}"#;
    let run = store
        .create_run(NewRun {
            experiment_id: exp,
            owner: Some(lease("worker", 1, elsewhere())),
            tags: vec![kv(TRIAL_RECORD_TAG, record), kv(TRIAL_STATE_TAG, "RUNNING")],
            ..Default::default()
        })
        .unwrap()
        .run_id;
    outlive(1);
    assert_eq!(store.reap().unwrap(), vec![run.clone()]);
    let r = store.get_run(&run).unwrap();
    let tag = |k: &str| r.tags.iter().find(|(key, _)| key == k).unwrap().1.clone();
    assert_eq!(tag(TRIAL_STATE_TAG), "FAIL");
    let record: serde_json::Value = serde_json::from_str(&tag(TRIAL_RECORD_TAG)).unwrap();
    assert_eq!(record["state"], "FAIL");
    assert_eq!(record["finished_ms"].as_i64(), r.info.end_time);
}

fn counters_count_from_zero_per_name(t: &Target) {
    let store = t.store();
    assert_eq!(store.next_sequence("study:1").unwrap(), 0);
    assert_eq!(store.next_sequence("study:1").unwrap(), 1);
    assert_eq!(store.next_sequence("study:2").unwrap(), 0);
}

/// Counters handed out from several threads (each with its own connection) never repeat.
fn concurrent_counters_never_repeat(t: &Target) {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = t.open();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| store.next_sequence("shared").unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
}

fn queued_runs_are_claimed_once_and_unowned_runs_never_reaped(t: &Target) {
    let store = t.store();
    let exp = store.get_or_create_experiment("queue").unwrap();
    let queued = store
        .create_run(NewRun {
            experiment_id: exp,
            status: Some(RunStatus::Scheduled),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(queued.status, RunStatus::Scheduled);
    assert_eq!(status(store, &queued.run_id), RunStatus::Scheduled);
    let claim = || {
        store
            .claim_run(
                &queued.run_id,
                RunStatus::Scheduled,
                RunStatus::Running,
                None,
            )
            .unwrap()
    };
    assert!(claim());
    assert!(!claim());
    // A RUNNING run without an owner is never reaped.
    assert!(store.reap().unwrap().is_empty());
}

/// `transition_run` is a compare-and-set of the run status, written with its batch in one
/// transaction: racing callers, each with its own connection, see exactly one winner, and the
/// losers write nothing.
fn transition_is_a_compare_and_set_with_one_winner(t: &Target) {
    let store = t.store();
    let exp = store.get_or_create_experiment("transitions").unwrap();
    let run = new_run(store, &exp, "trial", None);
    let state = |v: &str| Batch {
        run_id: run.clone(),
        tags: vec![kv("hone.trial.state", v)],
        ..Default::default()
    };
    // While RUNNING, RUNNING → RUNNING writes (a report) and the run stays open.
    assert!(
        store
            .transition_run(&state("RUNNING"), RunStatus::Running, RunStatus::Running)
            .unwrap()
    );
    assert_eq!(store.get_run(&run).unwrap().info.end_time, None);
    let winners: Vec<bool> = (0..8)
        .map(|i| {
            let (other, run) = (t.open(), run.clone());
            std::thread::spawn(move || {
                let b = Batch {
                    run_id: run,
                    metrics: vec![metric("value", i as f64, 0, 1)],
                    tags: vec![kv("winner", &i.to_string())],
                    ..Default::default()
                };
                other
                    .transition_run(&b, RunStatus::Running, RunStatus::Finished)
                    .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(winners.iter().filter(|w| **w).count(), 1, "{winners:?}");
    let r = store.get_run(&run).unwrap();
    assert_eq!(r.info.status, RunStatus::Finished);
    assert!(r.info.end_time.is_some());
    let winner = winners.iter().position(|w| *w).unwrap();
    assert_eq!(
        r.tags.iter().find(|(k, _)| k == "winner").unwrap().1,
        winner.to_string()
    );
    // The losers' values never reached the store.
    let history = store.metric_history(&run, "value").unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].value, winner as f64);
    // A finished run takes no late report, and a missing run is an error, not a lost race.
    assert!(
        !store
            .transition_run(&state("LATE"), RunStatus::Running, RunStatus::Running)
            .unwrap()
    );
    let r = store.get_run(&run).unwrap();
    assert_eq!(
        r.tags
            .iter()
            .find(|(k, _)| k == "hone.trial.state")
            .unwrap()
            .1,
        "RUNNING"
    );
    let missing = Batch {
        run_id: "no-such-run".into(),
        ..Default::default()
    };
    assert!(matches!(
        store.transition_run(&missing, RunStatus::Running, RunStatus::Finished),
        Err(TrackError::NotFound(_))
    ));
}

/// Re-opening applies no migration twice and keeps the data.
fn reopening_keeps_the_data(t: &Target) {
    let f = folds(t.store());
    let again = t.open();
    assert!(again.get_experiment_by_name("suite").unwrap().is_some());
    assert_eq!(again.child_runs(&f.parent).unwrap().len(), 3);
}

/// A run to register versions from.
fn source_run(store: &dyn Store) -> String {
    let exp = store.get_or_create_experiment("registry").unwrap();
    new_run(store, &exp, "fit", None)
}

fn registered_models_are_unique_listed_by_prefix_and_deleted(t: &Target) {
    let store = t.store();
    let m = store
        .create_registered_model("btc-momentum", "hourly", &[kv("desk", "crypto")])
        .unwrap();
    assert_eq!(m.name, "btc-momentum");
    assert_eq!(m.description, "hourly");
    assert_eq!(m.tags, vec![kv("desk", "crypto")]);
    assert!(m.aliases.is_empty());
    let e = store
        .create_registered_model("btc-momentum", "", &[])
        .unwrap_err();
    assert!(matches!(&e, TrackError::AlreadyExists(_)), "{e}");
    assert_eq!(
        e.to_string(),
        "registered model btc-momentum already exists"
    );
    store
        .create_registered_model("btc_meanrev", "", &[])
        .unwrap();
    store
        .create_registered_model("eth-momentum", "", &[])
        .unwrap();
    let names = |p: &str| -> Vec<String> {
        store
            .list_registered_models(p)
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect()
    };
    assert_eq!(names("btc"), ["btc-momentum", "btc_meanrev"]);
    // '_' and '%' are plain characters in a prefix, not LIKE wildcards.
    assert_eq!(names("btc_"), ["btc_meanrev"]);
    assert_eq!(names("%").len(), 0);
    assert_eq!(names("").len(), 3);
    store
        .set_registered_model_tag("btc-momentum", "owner", "ana")
        .unwrap();
    store
        .delete_registered_model_tag("btc-momentum", "desk")
        .unwrap();
    let e = store
        .delete_registered_model_tag("btc-momentum", "desk")
        .unwrap_err();
    assert!(matches!(&e, TrackError::NotFound(_)), "{e}");
    assert_eq!(
        store.get_registered_model("btc-momentum").unwrap().tags,
        vec![kv("owner", "ana")]
    );
    assert!(matches!(
        store.create_registered_model("", "", &[]),
        Err(TrackError::Invalid(_))
    ));
    let run = source_run(store);
    store
        .create_model_version(&NewModelVersion::from_run("btc-momentum", &run, None, &[]))
        .unwrap();
    store.delete_registered_model("btc-momentum").unwrap();
    let e = store.get_registered_model("btc-momentum").unwrap_err();
    assert!(matches!(&e, TrackError::NotFound(_)), "{e}");
    assert_eq!(e.to_string(), "registered model btc-momentum not found");
    assert!(matches!(
        store.delete_registered_model("btc-momentum"),
        Err(TrackError::NotFound(_))
    ));
    assert_eq!(names("btc"), ["btc_meanrev"]);
    // The audit log outlives the model.
    let actions: Vec<String> = store
        .audit_log("btc-momentum")
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(actions, ["create_model", "create_version", "delete_model"]);
}

fn version_numbers_count_up_and_are_never_reused(t: &Target) {
    let store = t.store();
    let run = source_run(store);
    store.create_registered_model("m", "", &[]).unwrap();
    for want in 1..=3 {
        let v = store
            .create_model_version(&NewModelVersion::from_run(
                "m",
                &run,
                None,
                &[kv("fold", "all")],
            ))
            .unwrap();
        assert_eq!(v.version, want);
        assert_eq!(v.current_stage, Stage::Development);
        assert_eq!(v.status, "READY");
        assert_eq!(v.source_run_id, run);
        assert_eq!(v.tags, vec![kv("fold", "all")]);
    }
    store.delete_model_version("m", 3).unwrap();
    let e = store.get_model_version("m", 3).unwrap_err();
    assert_eq!(e.to_string(), "version 3 of registered model m not found");
    assert!(matches!(
        store.delete_model_version("m", 3),
        Err(TrackError::NotFound(_))
    ));
    assert_eq!(
        store
            .create_model_version(&NewModelVersion::from_run("m", &run, None, &[]))
            .unwrap()
            .version,
        4
    );
    let listed: Vec<u32> = store
        .list_model_versions("m")
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, [1, 2, 4]);
    store.set_model_version_tag("m", 2, "k", "v").unwrap();
    store.set_model_version_tag("m", 2, "k", "w").unwrap();
    assert!(
        store
            .get_model_version("m", 2)
            .unwrap()
            .tags
            .contains(&kv("k", "w"))
    );
    store.delete_model_version_tag("m", 2, "k").unwrap();
    assert!(matches!(
        store.delete_model_version_tag("m", 2, "k"),
        Err(TrackError::NotFound(_))
    ));
    assert!(matches!(
        store.set_model_version_tag("m", 3, "k", "v"),
        Err(TrackError::NotFound(_))
    ));
    // Unknown model and unknown run are named.
    let e = store
        .create_model_version(&NewModelVersion::from_run("nope", &run, None, &[]))
        .unwrap_err();
    assert_eq!(e.to_string(), "registered model nope not found");
    let e = store
        .create_model_version(&NewModelVersion::from_run("m", "no-such-run", None, &[]))
        .unwrap_err();
    assert_eq!(e.to_string(), "run no-such-run not found");
    assert!(matches!(
        store.list_model_versions("nope"),
        Err(TrackError::NotFound(_))
    ));
    // A refused registration took no number.
    assert_eq!(
        store
            .create_model_version(&NewModelVersion::from_run("m", &run, None, &[]))
            .unwrap()
            .version,
        5
    );
    // Deleting the model and creating it again is a new model: the audit log keeps both.
    store.delete_registered_model("m").unwrap();
    store.create_registered_model("m", "", &[]).unwrap();
    assert_eq!(
        store
            .create_model_version(&NewModelVersion::from_run("m", &run, None, &[]))
            .unwrap()
            .version,
        1
    );
}

/// Eight threads, each with its own connection, register versions of one model at once: they
/// get exactly 1..=8.
fn concurrent_registrations_get_one_to_eight(t: &Target) {
    let store = t.store();
    let run = source_run(store);
    store.create_registered_model("shared", "", &[]).unwrap();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (other, run, barrier) = (t.open(), run.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                other
                    .create_model_version(&NewModelVersion::from_run("shared", &run, None, &[]))
                    .unwrap()
                    .version
            })
        })
        .collect();
    let mut got: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    got.sort();
    assert_eq!(got, (1..=8).collect::<Vec<_>>());
    assert_eq!(store.list_model_versions("shared").unwrap().len(), 8);
}

fn semvers_must_be_valid_and_increase(t: &Target) {
    let store = t.store();
    let run = source_run(store);
    store.create_registered_model("s", "", &[]).unwrap();
    let v = store
        .create_model_version(&NewModelVersion::from_run("s", &run, Some("1.2.0"), &[]))
        .unwrap();
    assert_eq!(v.semver.as_deref(), Some("1.2.0"));
    for (bad, why) in [
        ("1.2.0", "must be greater than 1.2.0"),
        ("1.1.9", "must be greater than 1.2.0"),
        ("0.9.0", "must be greater than 1.2.0"),
        ("1.2", "invalid semver"),
        ("1.2.x", "invalid semver"),
        ("01.2.3", "invalid semver"),
        ("1.3.0-rc1", "invalid semver"),
    ] {
        let e = store
            .create_model_version(&NewModelVersion::from_run("s", &run, Some(bad), &[]))
            .unwrap_err();
        assert!(matches!(&e, TrackError::Invalid(_)), "{bad}: {e}");
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    // Numeric, not text, order: 1.10.0 > 1.9.0 > 1.2.0.
    assert_eq!(
        store
            .create_model_version(&NewModelVersion::from_run("s", &run, Some("1.9.0"), &[]))
            .unwrap()
            .version,
        2
    );
    store
        .create_model_version(&NewModelVersion::from_run("s", &run, Some("1.10.0"), &[]))
        .unwrap();
    // A version without semver is fine; a deleted version's semver stays taken.
    store
        .create_model_version(&NewModelVersion::from_run("s", &run, None, &[]))
        .unwrap();
    store.delete_model_version("s", 3).unwrap();
    assert!(
        store
            .create_model_version(&NewModelVersion::from_run("s", &run, Some("1.10.0"), &[]))
            .is_err()
    );
    assert_eq!(
        store
            .get_model_version_by_semver("s", "1.9.0")
            .unwrap()
            .version,
        2
    );
    assert!(matches!(
        store.get_model_version_by_semver("s", "1.10.0"),
        Err(TrackError::NotFound(_))
    ));
    let v = store
        .create_model_version(&NewModelVersion::from_run("s", &run, Some("2.0.0"), &[]))
        .unwrap();
    assert_eq!(v.version, 5, "refused registrations took no number");
}

fn aliases_follow_mlflow_rules_and_pin_their_version(t: &Target) {
    let store = t.store();
    let run = source_run(store);
    store.create_registered_model("a", "", &[]).unwrap();
    for _ in 0..2 {
        store
            .create_model_version(&NewModelVersion::from_run("a", &run, None, &[]))
            .unwrap();
    }
    for bad in ["latest", "Latest", "v1", "V12", "has space", "dot.ted", ""] {
        let e = store.set_alias("a", bad, 1).unwrap_err();
        assert!(matches!(&e, TrackError::Invalid(_)), "{bad}: {e}");
    }
    assert!(store.set_alias("a", &"x".repeat(256), 1).is_err());
    assert!(matches!(
        store.set_alias("a", "champion", 9),
        Err(TrackError::NotFound(_))
    ));
    store.set_alias("a", "champion", 1).unwrap();
    assert_eq!(
        store
            .get_model_version_by_alias("a", "champion")
            .unwrap()
            .version,
        1
    );
    // Moving an alias.
    store.set_alias("a", "champion", 2).unwrap();
    let v2 = store.get_model_version_by_alias("a", "champion").unwrap();
    assert_eq!(
        (v2.version, v2.aliases.clone()),
        (2, vec!["champion".to_string()])
    );
    assert!(store.get_model_version("a", 1).unwrap().aliases.is_empty());
    assert_eq!(
        store.get_registered_model("a").unwrap().aliases,
        vec![("champion".to_string(), 2)]
    );
    // A version an alias points at cannot be deleted; the error names the alias.
    let e = store.delete_model_version("a", 2).unwrap_err();
    assert!(matches!(&e, TrackError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("alias champion"), "{e}");
    assert!(store.get_model_version("a", 2).is_ok());
    store.delete_alias("a", "champion").unwrap();
    let e = store.delete_alias("a", "champion").unwrap_err();
    assert_eq!(
        e.to_string(),
        "alias champion of registered model a not found"
    );
    let e = store
        .get_model_version_by_alias("a", "champion")
        .unwrap_err();
    assert!(matches!(&e, TrackError::NotFound(_)), "{e}");
    store.delete_model_version("a", 2).unwrap();
    let alias_actions: Vec<(String, Option<String>, Option<String>)> = store
        .audit_log("a")
        .unwrap()
        .into_iter()
        .filter(|e| e.action.ends_with("_alias"))
        .map(|e| (e.action, e.from, e.to))
        .collect();
    assert_eq!(
        alias_actions,
        [
            ("set_alias".to_string(), None, Some("1".to_string())),
            (
                "set_alias".to_string(),
                Some("1".to_string()),
                Some("2".to_string())
            ),
            ("delete_alias".to_string(), Some("2".to_string()), None),
        ]
    );
}

fn promote<'a>(
    name: &'a str,
    version: u32,
    to: Stage,
    expected: Option<u32>,
    archive: bool,
) -> Transition<'a> {
    Transition {
        name,
        version,
        to,
        expected_current_production: expected,
        archive_existing: archive,
        user: "ana",
        reason: "backtest passed",
        details: "",
    }
}

/// `(version, from, to)` of every stage change of a model, in order.
fn stage_log(store: &dyn Backend, name: &str) -> Vec<(u32, Stage, Stage)> {
    store
        .audit_log(name)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "transition_stage")
        .map(|e| {
            (
                e.version.unwrap(),
                Stage::parse(&e.from.unwrap()).unwrap(),
                Stage::parse(&e.to.unwrap()).unwrap(),
            )
        })
        .collect()
}

fn stage_changes_are_compare_and_set_and_audited(t: &Target) {
    use Stage::*;
    let store = t.store();
    let run = source_run(store);
    store.create_registered_model("p", "", &[]).unwrap();
    for _ in 0..4 {
        store
            .create_model_version(&NewModelVersion::from_run("p", &run, None, &[]))
            .unwrap();
    }
    let stage = |v: u32| store.get_model_version("p", v).unwrap().current_stage;
    let production_alias = || {
        store
            .get_model_version_by_alias("p", "production")
            .ok()
            .map(|v| v.version)
    };
    // The matrix: development cannot go straight to production; nothing is written.
    let e = store
        .transition_stage(&promote("p", 1, Production, None, false))
        .unwrap_err();
    assert!(matches!(&e, TrackError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("promote it to staging first"), "{e}");
    assert!(stage_log(store, "p").is_empty());
    store
        .transition_stage(&promote("p", 1, Staging, None, false))
        .unwrap();
    let v = store
        .transition_stage(&promote("p", 1, Production, None, false))
        .unwrap();
    assert_eq!(v.current_stage, Production);
    assert_eq!(v.aliases, ["production"]);
    assert_eq!(production_alias(), Some(1));
    // The caller's view of production is stale: refused, nothing written.
    let e = store
        .transition_stage(&promote("p", 2, Staging, None, false))
        .unwrap_err();
    assert!(matches!(&e, TrackError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("registered model p"), "{e}");
    assert!(e.to_string().contains("found version 1"), "{e}");
    assert_eq!(stage(2), Development);
    for v in [2, 3] {
        store
            .transition_stage(&promote("p", v, Staging, Some(1), false))
            .unwrap();
    }
    // archive_existing only for staging and production; unknown versions are named.
    assert!(matches!(
        store.transition_stage(&promote("p", 2, Archived, Some(1), true)),
        Err(TrackError::Invalid(_))
    ));
    assert!(matches!(
        store.transition_stage(&promote("p", 9, Staging, Some(1), false)),
        Err(TrackError::NotFound(_))
    ));
    // Two promotions racing with the same expectation (production = 1): one wins.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let results: Vec<(u32, Result<Stage, String>)> = [2u32, 3]
        .into_iter()
        .map(|version| {
            let (other, barrier) = (t.open(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let r = other.transition_stage(&promote("p", version, Production, Some(1), false));
                (
                    version,
                    r.map(|v| v.current_stage).map_err(|e| match e {
                        TrackError::Conflict(m) => m,
                        e => panic!("expected a conflict, got {e}"),
                    }),
                )
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let winners: Vec<u32> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(v, _)| *v)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let (winner, loser) = (winners[0], if winners[0] == 2 { 3 } else { 2 });
    assert_eq!(stage(winner), Production);
    assert_eq!(stage(loser), Staging);
    assert_eq!(
        stage(1),
        Deprecated,
        "the replaced production is deprecated"
    );
    assert_eq!(production_alias(), Some(winner));
    // Exactly one entry per change, in order.
    assert_eq!(
        stage_log(store, "p"),
        [
            (1, Development, Staging),
            (1, Staging, Production),
            (2, Development, Staging),
            (3, Development, Staging),
            (winner, Staging, Production),
            (1, Production, Deprecated),
        ]
    );
    let log = store.audit_log("p").unwrap();
    assert!(log.windows(2).all(|w| w[0].id < w[1].id));
    let displaced = log
        .iter()
        .rfind(|e| e.action == "transition_stage")
        .unwrap();
    assert_eq!(displaced.user_id, "ana");
    assert!(
        displaced
            .reason
            .contains(&format!("deprecated by the move of version {winner}")),
        "{displaced:?}"
    );
    // archive_existing: the replaced production is archived instead.
    store
        .transition_stage(&promote("p", 4, Staging, Some(winner), false))
        .unwrap();
    store
        .transition_stage(&Transition {
            details: r#"{"forced":true}"#,
            ..promote("p", 4, Production, Some(winner), true)
        })
        .unwrap();
    assert_eq!(
        (stage(winner), stage(4), stage(1)),
        (Archived, Production, Deprecated)
    );
    let forced = store.audit_log("p").unwrap();
    assert!(
        forced
            .iter()
            .any(|e| e.version == Some(4) && e.details == r#"{"forced":true}"#),
        "{forced:?}"
    );
    // A deprecated version can come back (a rollback); an archived one cannot.
    let e = store
        .transition_stage(&promote("p", winner, Production, Some(4), false))
        .unwrap_err();
    assert!(e.to_string().contains("from archived"), "{e}");
    store
        .transition_stage(&promote("p", 1, Production, Some(4), false))
        .unwrap();
    assert_eq!((stage(1), stage(4)), (Production, Deprecated));
    assert_eq!(production_alias(), Some(1));
    // Leaving production empty removes the alias; nothing points at a retired version.
    store
        .transition_stage(&promote("p", 1, Archived, Some(1), false))
        .unwrap();
    assert_eq!(production_alias(), None);
    let e = store
        .transition_stage(&promote("p", 4, Production, Some(1), false))
        .unwrap_err();
    assert!(e.to_string().contains("found none"), "{e}");
    // The production alias follows the stage only.
    for r in [
        store.set_alias("p", "production", 2),
        store.set_alias("p", "Production", 2),
        store.delete_alias("p", "production"),
    ] {
        let e = r.unwrap_err();
        assert!(
            e.to_string().contains("follows the production stage"),
            "{e}"
        );
    }
    let alias_moves: Vec<(String, Option<String>, Option<String>)> = store
        .audit_log("p")
        .unwrap()
        .into_iter()
        .filter(|e| e.action.ends_with("_alias") && e.reason == "production")
        .map(|e| (e.action, e.from, e.to))
        .collect();
    let s = |v: u32| Some(v.to_string());
    assert_eq!(
        alias_moves,
        [
            ("set_alias".into(), None, s(1)),
            ("set_alias".into(), s(1), s(winner)),
            ("set_alias".into(), s(winner), s(4)),
            ("set_alias".into(), s(4), s(1)),
            ("delete_alias".into(), s(1), None),
        ]
    );
}

fn callers_append_events_but_never_store_actions(t: &Target) {
    let store = t.store();
    let run = source_run(store);
    store.create_registered_model("e", "", &[]).unwrap();
    store
        .create_model_version(&NewModelVersion::from_run("e", &run, None, &[]))
        .unwrap();
    let note = |version, action, details| NewEvent {
        name: "e",
        version,
        action,
        user: "bo",
        reason: "retrained after the split",
        details,
    };
    let written = store
        .append_event(&note(Some(1), "note", r#"{"k":1}"#))
        .unwrap();
    let log = store.audit_log("e").unwrap();
    assert_eq!(log.last().unwrap(), &written);
    assert_eq!(written.details, r#"{"k":1}"#);
    assert_eq!(written.user_id, "bo");
    let before = log.len();
    for (e, kind) in [
        (store.append_event(&note(Some(1), "set_alias", "")), "store"),
        (store.append_event(&note(Some(1), "Note!", "")), "action"),
        (store.append_event(&note(Some(1), "note", "{bad")), "json"),
        (store.append_event(&note(Some(7), "note", "")), "version"),
        (
            store.append_event(&NewEvent {
                name: "nope",
                ..note(None, "note", "")
            }),
            "model",
        ),
    ] {
        let e = e.unwrap_err();
        let ok = match kind {
            "version" | "model" => matches!(e, TrackError::NotFound(_)),
            _ => matches!(e, TrackError::Invalid(_)),
        };
        assert!(ok, "{kind}: {e}");
    }
    assert_eq!(store.audit_log("e").unwrap().len(), before);
}

fn versions_are_found_by_the_run_they_pin(t: &Target) {
    let store = t.store();
    let run = source_run(store);
    let other = source_run(store);
    store.create_registered_model("r1", "", &[]).unwrap();
    store.create_registered_model("r2", "", &[]).unwrap();
    store
        .create_model_version(&NewModelVersion::from_run("r1", &run, None, &[]))
        .unwrap();
    store
        .create_model_version(&NewModelVersion::from_run("r1", &other, None, &[]))
        .unwrap();
    store
        .create_model_version(&NewModelVersion::from_run("r2", &run, None, &[]))
        .unwrap();
    let pins = |id: &str| -> Vec<(String, u32)> {
        store
            .versions_referencing_run(id)
            .unwrap()
            .into_iter()
            .map(|v| (v.name, v.version))
            .collect()
    };
    assert_eq!(pins(&run), [("r1".to_string(), 1), ("r2".to_string(), 1)]);
    store.delete_model_version("r2", 1).unwrap();
    assert_eq!(pins(&run), [("r1".to_string(), 1)]);
    assert!(pins("unknown").is_empty());
    // Deleting a pinned run is refused, naming the version, and deletes nothing (one
    // transaction); once no live version pins it, it deletes and purges like any run.
    let unpinned = source_run(store);
    let ids = [unpinned.clone(), run.clone()];
    let e = store
        .set_runs_lifecycle_cascade(&ids, Lifecycle::Deleted)
        .unwrap_err();
    assert!(matches!(&e, TrackError::Conflict(_)), "{e}");
    assert!(
        e.to_string().contains("pinned by model version r1/1"),
        "{e}"
    );
    for id in &ids {
        assert_eq!(store.get_run(id).unwrap().info.lifecycle, Lifecycle::Active);
    }
    store
        .set_runs_lifecycle_cascade(std::slice::from_ref(&unpinned), Lifecycle::Deleted)
        .unwrap();
    assert_eq!(store.purge_deleted_runs(0).unwrap(), vec![unpinned.clone()]);
    assert!(matches!(
        store.get_run(&unpinned),
        Err(TrackError::NotFound(_))
    ));
    store.delete_model_version("r1", 1).unwrap();
    store
        .set_runs_lifecycle_cascade(std::slice::from_ref(&run), Lifecycle::Deleted)
        .unwrap();
    assert_eq!(store.purge_deleted_runs(0).unwrap(), vec![run.clone()]);
    assert!(matches!(store.get_run(&run), Err(TrackError::NotFound(_))));
}

/// A pinned run (a live version was registered from it) survives a retention policy that
/// selects everything, purge and gc: its blob stays readable. Its unpinned twin goes.
fn retention_purge_and_gc_never_touch_a_pinned_run(t: &Target) {
    let store = t.store();
    let exp = store.get_or_create_experiment("keep").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blobs = hone_track::artifacts::BlobStore::open(&dir.path().display().to_string()).unwrap();
    let mut runs = Vec::new();
    for (name, bytes) in [("pinned", b"model A".as_slice()), ("free", b"model B")] {
        let id = new_run(store, &exp, name, None);
        let (sha, size) = blobs.put(bytes).unwrap();
        let art = ArtifactRecord {
            path: "model.json".into(),
            sha256: sha.clone(),
            size,
        };
        store.record_artifact(&id, &art).unwrap();
        store.end_run(&id, RunStatus::Finished).unwrap();
        runs.push((id, sha));
    }
    let (pinned, free) = (&runs[0], &runs[1]);
    store.create_registered_model("kept", "", &[]).unwrap();
    store
        .create_model_version(&NewModelVersion::from_run("kept", &pinned.0, None, &[]))
        .unwrap();
    let policy = hone_track::retention::Policy {
        keep_last: Some(0),
        older_than_days: None,
    };
    let plan = hone_track::retention::plan(store, &exp, &policy).unwrap();
    let planned: Vec<&str> = plan.iter().map(|d| d.run_id.as_str()).collect();
    assert_eq!(
        planned,
        [free.0.as_str()],
        "the pinned run is never selected"
    );
    hone_track::retention::apply(store, &plan).unwrap();
    assert_eq!(store.purge_deleted_runs(0).unwrap(), vec![free.0.clone()]);
    let report = hone_track::retention::gc_with_grace(store, &blobs, false, 0).unwrap();
    assert_eq!((report.blobs, report.unreferenced), (2, 1));
    assert_eq!(
        blobs.get(&pinned.1, &pinned.0, "model.json").unwrap(),
        b"model A"
    );
    assert!(blobs.get(&free.1, &free.0, "model.json").is_err());
    assert_eq!(
        store.get_run(&pinned.0).unwrap().info.lifecycle,
        Lifecycle::Active
    );
}

fn versions_carry_source_run_link_and_storage_location(t: &Target) {
    let store = t.store();
    let run = source_run(store);
    let exp = store.get_run(&run).unwrap().info.experiment_id;
    store.create_registered_model("m", "", &[]).unwrap();
    // The CLI's form: source and storage derived from the run.
    let v = store
        .create_model_version(&NewModelVersion::from_run("m", &run, None, &[]))
        .unwrap();
    assert_eq!(v.source, format!("runs:/{run}"));
    assert_eq!(
        v.storage_location,
        format!("mlflow-artifacts:/{exp}/{run}/artifacts")
    );
    assert_eq!((v.run_link.as_str(), v.model_id.as_str()), ("", ""));
    // MLflow's form: every field given, no run at all (a server derives the storage location
    // from the source itself: the one given is the one it derives).
    let logged = store
        .create_logged_model(NewLoggedModel {
            experiment_id: exp.clone(),
            ..Default::default()
        })
        .unwrap();
    let id = logged.model_id.as_str();
    let source = format!("models:/{id}");
    let storage = format!("mlflow-artifacts:/{exp}/models/{id}/artifacts");
    let v = store
        .create_model_version(&NewModelVersion {
            source: Some(&source),
            run_link: "http://ci/42",
            description: "from the notebook",
            model_id: id,
            storage_location: Some(&storage),
            user: Some("ana"),
            ..NewModelVersion::from_run("m", "", None, &[])
        })
        .unwrap();
    let read = store.get_model_version("m", 2).unwrap();
    assert_eq!(read, v);
    assert_eq!(read.source_run_id, "");
    let all: Vec<u32> = store
        .all_model_versions()
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(all, [1, 2]);
    assert_eq!(read.source, source);
    assert_eq!(read.run_link, "http://ci/42");
    assert_eq!(read.description, "from the notebook");
    assert_eq!(read.model_id, id);
    assert_eq!(read.user_id, "ana");
    assert_eq!(read.storage_location, storage);
    assert_eq!(store.audit_log("m").unwrap().last().unwrap().user_id, "ana");
    // Neither a run nor a source: refused, and no number is used up.
    let e = store
        .create_model_version(&NewModelVersion::from_run("m", "", None, &[]))
        .unwrap_err();
    assert!(matches!(&e, TrackError::Invalid(_)), "{e}");
    assert_eq!(store.list_model_versions("m").unwrap().len(), 2);
    assert_eq!(
        store
            .create_model_version(&NewModelVersion::from_run("m", &run, None, &[]))
            .unwrap()
            .version,
        3
    );
}

fn a_model_is_renamed_with_its_versions_tags_and_aliases(t: &Target) {
    let store = t.store();
    let run = source_run(store);
    store
        .create_registered_model("old", "desc", &[kv("desk", "fx")])
        .unwrap();
    store.create_registered_model("taken", "", &[]).unwrap();
    for _ in 0..3 {
        store
            .create_model_version(&NewModelVersion::from_run(
                "old",
                &run,
                None,
                &[kv("k", "v")],
            ))
            .unwrap();
    }
    store.delete_model_version("old", 3).unwrap();
    store.set_alias("old", "champion", 2).unwrap();
    store
        .transition_stage(&promote("old", 1, Stage::Staging, None, false))
        .unwrap();
    store
        .transition_stage(&promote("old", 1, Stage::Production, None, false))
        .unwrap();
    let before = store.get_registered_model("old").unwrap();
    // Onto a taken name, an invalid one, or from an unknown one: refused, nothing changes.
    let e = store
        .rename_registered_model("old", "taken", "ana")
        .unwrap_err();
    assert!(matches!(&e, TrackError::AlreadyExists(_)), "{e}");
    let e = store
        .rename_registered_model("old", "a/b", "ana")
        .unwrap_err();
    assert!(matches!(&e, TrackError::Invalid(_)), "{e}");
    let e = store
        .rename_registered_model("nope", "x", "ana")
        .unwrap_err();
    assert!(matches!(&e, TrackError::NotFound(_)), "{e}");
    assert_eq!(store.get_registered_model("old").unwrap().tags, before.tags);
    assert_eq!(store.list_model_versions("old").unwrap().len(), 2);

    let renamed = store.rename_registered_model("old", "new", "ana").unwrap();
    assert_eq!(renamed.name, "new");
    assert_eq!(renamed.description, "desc");
    assert_eq!(renamed.tags, vec![kv("desk", "fx")]);
    assert_eq!(
        renamed.aliases,
        vec![("champion".to_string(), 2), ("production".to_string(), 1)]
    );
    assert!(matches!(
        store.get_registered_model("old"),
        Err(TrackError::NotFound(_))
    ));
    let versions = store.list_model_versions("new").unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(versions[0].current_stage, Stage::Production);
    assert_eq!(versions[1].tags, vec![kv("k", "v")]);
    assert_eq!(versions[1].aliases, ["champion"]);
    // The tombstone moved too: number 3 stays taken.
    assert_eq!(
        store
            .create_model_version(&NewModelVersion::from_run("new", &run, None, &[]))
            .unwrap()
            .version,
        4
    );
    assert_eq!(
        store
            .get_model_version_by_alias("new", "production")
            .unwrap()
            .version,
        1
    );
    for log in ["old", "new"] {
        let last = store
            .audit_log(log)
            .unwrap()
            .into_iter()
            .find(|e| e.action == "rename_model")
            .unwrap();
        assert_eq!(
            (
                last.from.as_deref(),
                last.to.as_deref(),
                last.user_id.as_str()
            ),
            (Some("old"), Some("new"), "ana")
        );
    }
    // The old name is free again.
    store.create_registered_model("old", "", &[]).unwrap();
    assert!(store.list_model_versions("old").unwrap().is_empty());
}

fn descriptions_of_models_and_versions_are_updated(t: &Target) {
    let store = t.store();
    let run = source_run(store);
    store.create_registered_model("m", "first", &[]).unwrap();
    store
        .create_model_version(&NewModelVersion::from_run("m", &run, None, &[]))
        .unwrap();
    let m = store
        .update_registered_model_description("m", "second")
        .unwrap();
    assert_eq!(m.description, "second");
    assert_eq!(
        store.get_registered_model("m").unwrap().description,
        "second"
    );
    let v = store
        .update_model_version_description("m", 1, "v1")
        .unwrap();
    assert_eq!(v.description, "v1");
    assert_eq!(store.get_model_version("m", 1).unwrap().description, "v1");
    let long = "x".repeat(6000);
    let m = store
        .update_registered_model_description("m", &long)
        .unwrap();
    assert_eq!(m.description.len(), 5000);
    assert!(matches!(
        store.update_registered_model_description("nope", "x"),
        Err(TrackError::NotFound(_))
    ));
    assert!(matches!(
        store.update_model_version_description("m", 9, "x"),
        Err(TrackError::NotFound(_))
    ));
}

fn mlflow_transitions_walk_the_matrix_step_by_step(t: &Target) {
    use Stage::*;
    let store = t.store();
    let run = source_run(store);
    store.create_registered_model("w", "", &[]).unwrap();
    for _ in 0..3 {
        store
            .create_model_version(&NewModelVersion::from_run("w", &run, None, &[]))
            .unwrap();
    }
    let walk = |version: u32, to: Stage, archive: bool| {
        store.transition_stage_by_path(&Transition {
            reason: "MLflow transition-stage",
            user: "bob",
            ..promote("w", version, to, Some(99), archive)
        })
    };
    // None -> Production in one call: through Staging, each step audited.
    let v = walk(1, Production, false).unwrap();
    assert_eq!(v.current_stage, Production);
    assert_eq!(v.aliases, ["production"]);
    let steps: Vec<(Option<String>, Option<String>, String)> = store
        .audit_log("w")
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "transition_stage")
        .map(|e| (e.from, e.to, e.user_id))
        .collect();
    assert_eq!(
        steps,
        [
            (Some("None".into()), Some("Staging".into()), "bob".into()),
            (
                Some("Staging".into()),
                Some("Production".into()),
                "bob".into()
            ),
        ]
    );
    // A second version to Production displaces the first to Deprecated; with
    // archive_existing it goes to Archived instead.
    walk(2, Production, false).unwrap();
    assert_eq!(
        store.get_model_version("w", 1).unwrap().current_stage,
        Deprecated
    );
    walk(3, Production, true).unwrap();
    assert_eq!(
        store.get_model_version("w", 2).unwrap().current_stage,
        Archived
    );
    assert_eq!(
        store.get_model_version("w", 1).unwrap().current_stage,
        Deprecated
    );
    assert_eq!(
        store
            .get_model_version_by_alias("w", "production")
            .unwrap()
            .version,
        3
    );
    // Production -> None goes through Archived, and the alias leaves with it.
    let v = walk(3, Development, false).unwrap();
    assert_eq!(v.current_stage, Development);
    assert!(v.aliases.is_empty());
    assert!(store.get_model_version_by_alias("w", "production").is_err());
    // The same stage: unchanged. archive_existing to None/Archived: refused, nothing moves.
    let before = store.audit_log("w").unwrap().len();
    assert_eq!(
        walk(3, Development, false).unwrap().current_stage,
        Development
    );
    for to in [Development, Archived] {
        let e = walk(3, to, true).unwrap_err();
        assert!(matches!(&e, TrackError::Invalid(_)), "{e}");
    }
    // Deprecated is reached only by leaving production.
    assert!(matches!(
        walk(3, Deprecated, false),
        Err(TrackError::Invalid(_))
    ));
    assert_eq!(store.audit_log("w").unwrap().len(), before);
    assert!(matches!(
        walk(9, Staging, false),
        Err(TrackError::NotFound(_))
    ));
}

fn experiment_tags_are_set_replaced_and_deleted(t: &Target) {
    let store = t.store();
    let exp = store
        .create_experiment("tagged", &[kv("team", "quant")])
        .unwrap();
    store.set_experiment_tag(&exp, "desk", "fx").unwrap();
    store.set_experiment_tag(&exp, "team", "macro").unwrap();
    let tags = store.get_experiment(&exp).unwrap().tags;
    assert_eq!(tags, vec![kv("desk", "fx"), kv("team", "macro")]);
    store.delete_experiment_tag(&exp, "desk").unwrap();
    assert_eq!(
        store.get_experiment(&exp).unwrap().tags,
        vec![kv("team", "macro")]
    );
    let e = store.delete_experiment_tag(&exp, "desk").unwrap_err();
    assert!(
        matches!(e, TrackError::NotFound(_)) && e.to_string().contains("desk"),
        "{e}"
    );
    // Unknown experiment, bad key, oversized value: refused, nothing changes.
    assert!(matches!(
        store.set_experiment_tag("987654", "k", "v").unwrap_err(),
        TrackError::NotFound(_)
    ));
    assert!(store.set_experiment_tag(&exp, "../x", "v").is_err());
    let long = "x".repeat(hone_track::model::MAX_EXPERIMENT_TAG_VALUE + 1);
    let e = store.set_experiment_tag(&exp, "big", &long).unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
    assert_eq!(
        store.get_experiment(&exp).unwrap().tags,
        vec![kv("team", "macro")]
    );
}

fn runs_are_renamed_with_their_run_name_tag(t: &Target) {
    let store = t.store();
    let f = folds(store);
    store.rename_run(&f.a, "fold-1-final").unwrap();
    let run = store.get_run(&f.a).unwrap();
    assert_eq!(run.info.run_name, "fold-1-final");
    assert!(run.tags.contains(&kv("mlflow.runName", "fold-1-final")));
    assert_eq!(
        search(store, &f.exp, "attributes.run_name = 'fold-1-final'", &[]),
        vec!["fold-1-final".to_string()]
    );
    assert!(matches!(
        store.rename_run("nope", "x").unwrap_err(),
        TrackError::NotFound(_)
    ));
    store.set_run_lifecycle(&f.b, Lifecycle::Deleted).unwrap();
    assert!(
        store.rename_run(&f.b, "x").is_err(),
        "a deleted run is not renamed"
    );
    assert_eq!(store.get_run(&f.b).unwrap().info.run_name, "fold-2");
}

fn new_model(store: &dyn Store, exp: &str, name: &str, run: Option<&str>) -> LoggedModel {
    store
        .create_logged_model(NewLoggedModel {
            experiment_id: exp.into(),
            name: Some(name.into()),
            source_run_id: run.map(str::to_string),
            ..Default::default()
        })
        .unwrap()
}

fn model_search(store: &dyn Store, exp: &str, filter: &str, order: &[(&str, bool)]) -> Vec<String> {
    store
        .search_logged_models(&LoggedModelSearch {
            experiment_ids: vec![exp.into()],
            filter: filter.into(),
            order_by: order.iter().map(|(f, a)| (f.to_string(), *a)).collect(),
            ..Default::default()
        })
        .unwrap()
        .0
        .into_iter()
        .map(|m| m.name)
        .collect()
}

fn logged_models_are_created_finalized_tagged_and_searched(t: &Target) {
    let store = t.store();
    let exp = store.get_or_create_experiment("lm").unwrap();
    let run = new_run(store, &exp, "trainer", None);
    let m = store
        .create_logged_model(NewLoggedModel {
            experiment_id: exp.clone(),
            name: Some("model".into()),
            model_type: Some("gbm".into()),
            source_run_id: Some(run.clone()),
            tags: vec![kv("team", "quant")],
            params: vec![kv("lr", "0.1")],
        })
        .unwrap();
    assert!(
        m.model_id.starts_with("m-") && m.model_id.len() == 34,
        "{}",
        m.model_id
    );
    assert!(m.model_id[2..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(m.status, LoggedModelStatus::Pending);
    assert_eq!(
        (m.source_run_id.as_deref(), m.model_type.as_deref()),
        (Some(run.as_str()), Some("gbm"))
    );
    assert_eq!(
        (m.tags.clone(), m.params.clone()),
        (vec![kv("team", "quant")], vec![kv("lr", "0.1")])
    );
    assert_eq!(store.get_logged_model(&m.model_id).unwrap(), m);
    // Finalize: READY or UPLOAD_FAILED, never back to PENDING; a replay is harmless.
    assert!(matches!(
        store.finalize_logged_model(&m.model_id, LoggedModelStatus::Pending),
        Err(TrackError::Invalid(_))
    ));
    let ready = store
        .finalize_logged_model(&m.model_id, LoggedModelStatus::Ready)
        .unwrap();
    assert_eq!(ready.status, LoggedModelStatus::Ready);
    store
        .finalize_logged_model(&m.model_id, LoggedModelStatus::Ready)
        .unwrap();
    // Tags: upsert, delete, a missing one is named.
    store
        .set_logged_model_tags(&m.model_id, &[kv("team", "risk"), kv("stage", "dev")])
        .unwrap();
    store.delete_logged_model_tag(&m.model_id, "stage").unwrap();
    let e = store
        .delete_logged_model_tag(&m.model_id, "stage")
        .unwrap_err();
    assert!(
        matches!(e, TrackError::NotFound(_)) && e.to_string().contains("stage"),
        "{e}"
    );
    assert!(
        store
            .set_logged_model_tags(&m.model_id, &[kv("../x", "v")])
            .is_err()
    );
    // Params are immutable, as on runs; a refused request writes nothing.
    store
        .log_logged_model_params(&m.model_id, &[kv("lr", "0.1"), kv("depth", "3")])
        .unwrap();
    let e = store
        .log_logged_model_params(&m.model_id, &[kv("leaves", "8"), kv("lr", "0.2")])
        .unwrap_err();
    assert!(matches!(e, TrackError::Invalid(_)), "{e}");
    store
        .log_logged_model_metrics(
            &m.model_id,
            &[LoggedModelMetric {
                key: "auc".into(),
                point: MetricPoint {
                    value: 0.7,
                    timestamp: 5,
                    step: 1,
                },
                run_id: Some(run.clone()),
                dataset_name: Some("train".into()),
                dataset_digest: Some("abc".into()),
            }],
        )
        .unwrap();
    let got = store.get_logged_model(&m.model_id).unwrap();
    assert_eq!(got.tags, vec![kv("team", "risk")]);
    assert_eq!(got.params, vec![kv("depth", "3"), kv("lr", "0.1")]);
    assert_eq!(got.metrics.len(), 1);
    assert_eq!(got.metrics[0].dataset_digest.as_deref(), Some("abc"));
    assert!(got.last_update_time >= m.last_update_time);
    // Unknown ids, experiments and runs, and bad names, are refused.
    assert!(matches!(
        store.get_logged_model("m-0000"),
        Err(TrackError::NotFound(_))
    ));
    assert!(matches!(
        store.finalize_logged_model("m-0000", LoggedModelStatus::Ready),
        Err(TrackError::NotFound(_))
    ));
    let bad = |new: NewLoggedModel| store.create_logged_model(new).unwrap_err();
    assert!(matches!(
        bad(NewLoggedModel {
            experiment_id: "999".into(),
            ..Default::default()
        }),
        TrackError::NotFound(_)
    ));
    assert!(matches!(
        bad(NewLoggedModel {
            experiment_id: "x".into(),
            ..Default::default()
        }),
        TrackError::Invalid(_)
    ));
    assert!(matches!(
        bad(NewLoggedModel {
            experiment_id: exp.clone(),
            source_run_id: Some("nope".into()),
            ..Default::default()
        }),
        TrackError::NotFound(_)
    ));
    for name in ["", "a/b", "a.b", "a:b", "50%", "it's"] {
        assert!(
            matches!(
                bad(NewLoggedModel {
                    experiment_id: exp.clone(),
                    name: Some(name.into()),
                    ..Default::default()
                }),
                TrackError::Invalid(_)
            ),
            "{name:?}"
        );
    }
    // A generated name when none is given.
    let anon = store
        .create_logged_model(NewLoggedModel {
            experiment_id: exp.clone(),
            ..Default::default()
        })
        .unwrap();
    assert!(!anon.name.is_empty());
    store.delete_logged_model(&anon.model_id).unwrap();
    assert!(matches!(
        store.get_logged_model(&anon.model_id),
        Err(TrackError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_logged_model(&anon.model_id),
        Err(TrackError::NotFound(_))
    ));
    assert!(
        store
            .set_logged_model_tags(&anon.model_id, &[kv("a", "b")])
            .is_err()
    );

    // Search: by name (what the client does on every runs:/ read), run, status, tags,
    // params, metrics and time; ordering and paging.
    std::thread::sleep(Duration::from_millis(5));
    let other = new_model(store, &exp, "other", None);
    assert_eq!(model_search(store, &exp, "name = 'model'", &[]), ["model"]);
    assert_eq!(model_search(store, &exp, "", &[]), ["other", "model"]);
    assert_eq!(
        model_search(store, &exp, &format!("source_run_id = '{run}'"), &[]),
        ["model"]
    );
    assert_eq!(
        model_search(store, &exp, "status = 'LOGGED_MODEL_PENDING'", &[]),
        ["other"]
    );
    assert_eq!(
        model_search(store, &exp, "tags.team = 'risk' AND params.lr = '0.1'", &[]),
        ["model"]
    );
    assert_eq!(
        model_search(store, &exp, "metrics.auc > 0.5", &[]),
        ["model"]
    );
    assert_eq!(
        model_search(store, &exp, "tags.team IS NULL", &[]),
        ["other"]
    );
    assert_eq!(
        model_search(
            store,
            &exp,
            &format!("creation_timestamp >= {}", other.creation_time),
            &[]
        ),
        ["other"]
    );
    assert_eq!(
        model_search(store, &exp, "name LIKE 'mod%'", &[]),
        ["model"]
    );
    assert_eq!(
        model_search(store, &exp, "", &[("name", true)]),
        ["model", "other"]
    );
    assert_eq!(
        model_search(store, &exp, "", &[("creation_timestamp", true)]),
        ["model", "other"]
    );
    assert_eq!(
        model_search(store, &exp, "", &[("metrics.auc", false)]),
        ["model", "other"]
    );
    let page = |token: Option<String>| {
        store
            .search_logged_models(&LoggedModelSearch {
                experiment_ids: vec![exp.clone()],
                max_results: 1,
                page_token: token,
                ..Default::default()
            })
            .unwrap()
    };
    let (first, next) = page(None);
    assert_eq!(first[0].name, "other");
    let (second, last) = page(next);
    assert_eq!((second[0].name.as_str(), last), ("model", None));
    for (filter, order) in [
        ("nope = 'x'", vec![]),
        ("name = ", vec![]),
        ("datasets.name = 'x'", vec![]),
        ("", vec![("params.lr".to_string(), true)]),
        ("", vec![("bogus".to_string(), true)]),
    ] {
        let e = store
            .search_logged_models(&LoggedModelSearch {
                experiment_ids: vec![exp.clone()],
                filter: filter.into(),
                order_by: order,
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(e, TrackError::Invalid(_)), "{filter}: {e}");
    }
    for max_results in [0, 1001] {
        assert!(
            store
                .search_logged_models(&LoggedModelSearch {
                    experiment_ids: vec![exp.clone()],
                    max_results,
                    ..Default::default()
                })
                .is_err()
        );
    }
    // Another experiment's models are not found.
    let exp2 = store.get_or_create_experiment("lm2").unwrap();
    assert!(model_search(store, &exp2, "", &[]).is_empty());
}

fn logged_model_artifacts_and_run_outputs_are_recorded(t: &Target) {
    let store = t.store();
    let exp = store.get_or_create_experiment("outs").unwrap();
    let run = new_run(store, &exp, "trainer", None);
    let m = new_model(store, &exp, "model", Some(&run));
    let art = ArtifactRecord {
        path: "MLmodel".into(),
        sha256: "cd".repeat(32),
        size: 10,
    };
    store
        .record_logged_model_artifact(&m.model_id, &art)
        .unwrap();
    let sub = ArtifactRecord {
        path: "data/model.lgb".into(),
        ..art.clone()
    };
    store
        .record_logged_model_artifact(&m.model_id, &sub)
        .unwrap();
    assert_eq!(
        store.list_logged_model_artifacts(&m.model_id).unwrap(),
        vec![art.clone(), sub.clone()]
    );
    for bad in ["../x", "/etc/passwd", "a\\b", "C:/x", ""] {
        assert!(
            store
                .record_logged_model_artifact(
                    &m.model_id,
                    &ArtifactRecord {
                        path: bad.into(),
                        ..art.clone()
                    }
                )
                .is_err(),
            "{bad:?}"
        );
    }
    assert!(matches!(
        store.record_logged_model_artifact("m-nope", &art),
        Err(TrackError::NotFound(_))
    ));
    assert!(
        store
            .delete_logged_model_artifact(&m.model_id, "MLmodel")
            .unwrap()
    );
    assert!(
        !store
            .delete_logged_model_artifact(&m.model_id, "MLmodel")
            .unwrap()
    );
    assert_eq!(
        store.list_logged_model_artifacts(&m.model_id).unwrap(),
        vec![sub.clone()]
    );
    assert!(store.referenced_blobs().unwrap().contains(&sub.sha256));

    // Outputs: the same model again updates its step; an unknown model writes nothing.
    let m2 = new_model(store, &exp, "second", Some(&run));
    store.log_outputs(&run, &[(m.model_id.clone(), 0)]).unwrap();
    store.log_outputs(&run, &[(m.model_id.clone(), 3)]).unwrap();
    let e = store
        .log_outputs(&run, &[(m2.model_id.clone(), 1), ("m-nope".into(), 0)])
        .unwrap_err();
    assert!(matches!(e, TrackError::NotFound(_)), "{e}");
    let outs = store.run_outputs(std::slice::from_ref(&run)).unwrap();
    assert_eq!(
        outs,
        vec![hone_track::RunOutput {
            run_id: run.clone(),
            model_id: m.model_id.clone(),
            step: 3
        }]
    );
    assert!(store.run_outputs(&["nope".to_string()]).unwrap().is_empty());
    assert!(matches!(
        store.log_outputs("nope", &[(m.model_id.clone(), 0)]),
        Err(TrackError::NotFound(_))
    ));
    store.set_run_lifecycle(&run, Lifecycle::Deleted).unwrap();
    assert!(
        store
            .log_outputs(&run, &[(m2.model_id.clone(), 0)])
            .is_err()
    );
    // Purging the run drops its links, never the models it produced.
    assert_eq!(store.purge_deleted_runs(0).unwrap(), vec![run.clone()]);
    assert!(
        store
            .run_outputs(std::slice::from_ref(&run))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.get_logged_model(&m.model_id).unwrap().source_run_id,
        Some(run)
    );
}

fn gc_keeps_logged_model_blobs_until_the_model_is_purged(t: &Target) {
    let store = t.store();
    let exp = store.get_or_create_experiment("gc-models").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blobs = hone_track::artifacts::BlobStore::open(&dir.path().display().to_string()).unwrap();
    let m = new_model(store, &exp, "model", None);
    let (sha, size) = blobs.put(b"booster bytes").unwrap();
    store
        .record_logged_model_artifact(
            &m.model_id,
            &ArtifactRecord {
                path: "model.lgb".into(),
                sha256: sha.clone(),
                size,
            },
        )
        .unwrap();
    let (orphan, _) = blobs.put(b"nobody's").unwrap();
    let report = hone_track::retention::gc_with_grace(store, &blobs, false, 0).unwrap();
    assert_eq!((report.blobs, report.unreferenced), (2, 1));
    assert_eq!(
        blobs.get(&sha, &m.model_id, "model.lgb").unwrap(),
        b"booster bytes"
    );
    assert!(blobs.get(&orphan, "x", "y").is_err());
    // Deleted but not purged: still kept (it can be purged later, never half-freed).
    store.delete_logged_model(&m.model_id).unwrap();
    assert!(
        store
            .purge_deleted_logged_models(60_000)
            .unwrap()
            .is_empty()
    );
    let report = hone_track::retention::gc_with_grace(store, &blobs, false, 0).unwrap();
    assert_eq!(report.unreferenced, 0);
    assert_eq!(
        store.purge_deleted_logged_models(0).unwrap(),
        vec![m.model_id.clone()]
    );
    let report = hone_track::retention::gc_with_grace(store, &blobs, false, 0).unwrap();
    assert_eq!(report.unreferenced, 1);
    assert!(blobs.get(&sha, &m.model_id, "model.lgb").is_err());
}

fn a_logged_model_a_live_version_pins_is_never_deleted_or_purged(t: &Target) {
    let store = t.store();
    let exp = store.create_experiment("pinned-models", &[]).unwrap();
    let run = new_run(store, &exp, "train", None);
    let pinned = new_model(store, &exp, "model", Some(&run));
    let loose = new_model(store, &exp, "scratch", Some(&run));
    store.create_registered_model("desk", "", &[]).unwrap();
    let source = format!("models:/{}", pinned.model_id);
    let location = format!(
        "mlflow-artifacts:/{exp}/models/{}/artifacts",
        pinned.model_id
    );
    let v = store
        .create_model_version(&hone_track::registry::NewModelVersion {
            source: Some(&source),
            model_id: &pinned.model_id,
            storage_location: Some(&location),
            ..hone_track::registry::NewModelVersion::from_run("desk", &run, None, &[])
        })
        .unwrap();
    // Deleting the pinned model is refused, naming the version; the other one goes.
    let e = store.delete_logged_model(&pinned.model_id).unwrap_err();
    assert!(matches!(e, TrackError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("desk version 1"), "{e}");
    store.delete_logged_model(&loose.model_id).unwrap();
    assert_eq!(
        store.purge_deleted_logged_models(0).unwrap(),
        vec![loose.model_id.clone()]
    );
    assert!(store.get_logged_model(&pinned.model_id).is_ok());
    // Once the version is gone, the model can go too.
    store.delete_model_version("desk", v.version).unwrap();
    store.delete_logged_model(&pinned.model_id).unwrap();
    assert_eq!(
        store.purge_deleted_logged_models(0).unwrap(),
        vec![pinned.model_id.clone()]
    );
}
