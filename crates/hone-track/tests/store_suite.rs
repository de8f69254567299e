//! One behaviour suite, run against both backends: SQLite (a temp file) and PostgreSQL (a
//! throwaway cluster started with initdb/pg_ctl on a free loopback port).

use hone_track::store::{Batch, NewRun, SearchRequest};
use hone_track::{
    ArtifactRecord, DatasetInput, Lifecycle, Metric, MetricPoint, RunStatus, Store, TrackError,
    ViewType, open_store,
};

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

fn suite(store: &dyn Store) {
    // Experiments: unique names, rename, soft delete and restore.
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

    // Runs, nesting, params (immutable), tags, metrics with NaN and history.
    let parent = new_run(store, &exp, "job", None);
    let a = new_run(store, &exp, "fold-1", Some(&parent));
    let b = new_run(store, &exp, "fold-2", Some(&parent));
    let c = new_run(store, &exp, "fold-3", Some(&parent));
    assert_eq!(store.child_runs(&parent).unwrap().len(), 3);
    let batch = |run: &str, auc: f64, model: &str| Batch {
        run_id: run.into(),
        metrics: vec![
            metric("auc", 0.1, 0, 1),
            metric("auc", auc, 5, 2),
            metric("loss", f64::NAN, 1, 3),
            metric("loss", f64::INFINITY, 0, 4),
        ],
        params: vec![kv("model", model), kv("lr", "0.1")],
        tags: vec![kv("stage", "cv")],
    };
    store
        .log_batches(&[
            batch(&a, 0.7, "lgbm"),
            batch(&b, 0.55, "lgbm"),
            batch(&c, 0.61, "ridge"),
        ])
        .unwrap();
    // Same param value again is fine, another value is refused and nothing of the batch lands.
    store.log_batches(&[batch(&a, 0.7, "lgbm")]).unwrap();
    let e = store
        .log_batches(&[Batch {
            run_id: a.clone(),
            params: vec![kv("model", "xgb")],
            metrics: vec![metric("auc", 0.99, 9, 9)],
            ..Default::default()
        }])
        .unwrap_err()
        .to_string();
    assert!(e.contains("params cannot change"), "{e}");
    let run = store.get_run(&a).unwrap();
    assert_eq!(run.params, vec![kv("lr", "0.1"), kv("model", "lgbm")]);
    let auc = run.metrics.iter().find(|m| m.key == "auc").unwrap();
    assert_eq!(
        (auc.point.value, auc.point.step),
        (0.7, 5),
        "latest = highest step"
    );
    let loss = run.metrics.iter().find(|m| m.key == "loss").unwrap();
    assert!(loss.point.value.is_nan(), "NaN is kept as NaN");
    let hist = store.metric_history(&a, "loss").unwrap();
    assert_eq!(hist.len(), 4);
    assert_eq!(hist[0].value, f64::INFINITY);
    assert!(run.tags.contains(&kv("mlflow.runName", "fold-1")));
    assert!(run.tags.contains(&kv("mlflow.parentRunId", &parent)));
    assert!(store.get_run("nope").is_err());
    assert!(
        store
            .log_batches(&[Batch {
                run_id: a.clone(),
                metrics: vec![metric("../x", 1.0, 0, 0)],
                ..Default::default()
            }])
            .is_err()
    );

    // Search: filters, order, pagination, views.
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
    assert_eq!(
        search(store, &exp, "", &["metrics.auc DESC"])
            .last()
            .unwrap(),
        "job"
    );
    assert_eq!(
        search(store, &exp, "", &["metrics.auc ASC"])
            .last()
            .unwrap(),
        "job"
    );
    let req = SearchRequest {
        experiment_ids: vec![exp.clone()],
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

    // Datasets and artifacts.
    let ds = DatasetInput {
        name: "prices".into(),
        digest: "abc123".into(),
        source: "/data/prices.csv".into(),
        schema: "{\"close\":\"f64\"}".into(),
        rows: 10,
        context: "train".into(),
    };
    store
        .log_inputs(&parent, std::slice::from_ref(&ds))
        .unwrap();
    store
        .log_inputs(
            &a,
            &[
                ds.clone(),
                DatasetInput {
                    context: "test".into(),
                    ..ds.clone()
                },
            ],
        )
        .unwrap();
    assert_eq!(store.run_inputs(&a).unwrap().len(), 2);
    assert_eq!(
        search(
            store,
            &exp,
            "datasets.digest = 'abc123' AND datasets.context = 'test'",
            &[]
        ),
        ["fold-1"]
    );
    assert!(
        store
            .log_inputs(
                &a,
                &[DatasetInput {
                    context: "bogus".into(),
                    ..ds
                }]
            )
            .is_err()
    );
    let art = ArtifactRecord {
        path: "model/model.txt".into(),
        sha256: "ab".repeat(32),
        size: 3,
    };
    store.record_artifact(&parent, &art).unwrap();
    assert_eq!(store.list_artifacts(&parent).unwrap(), vec![art.clone()]);
    assert!(
        store
            .record_artifact(
                &parent,
                &ArtifactRecord {
                    path: "../x".into(),
                    ..art.clone()
                }
            )
            .is_err()
    );
    assert!(store.referenced_blobs().unwrap().contains(&art.sha256));

    // End, delete, restore, purge.
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

    // Runs of this (live) process are not reaped; finished ones never are.
    assert!(store.reap().unwrap().is_empty());

    // Counters: 0, 1, 2, ... per name, independent names.
    assert_eq!(store.next_sequence("study:1").unwrap(), 0);
    assert_eq!(store.next_sequence("study:1").unwrap(), 1);
    assert_eq!(store.next_sequence("study:2").unwrap(), 0);
    // Queued, detached runs: SCHEDULED until claimed, and exactly one claimer wins.
    let exp = store.get_or_create_experiment("queue").unwrap();
    let queued = store
        .create_run(NewRun {
            experiment_id: exp,
            status: Some(RunStatus::Scheduled),
            detached: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(queued.status, RunStatus::Scheduled);
    assert_eq!(
        store.get_run(&queued.run_id).unwrap().info.status,
        RunStatus::Scheduled
    );
    assert!(
        store
            .claim_run(
                &queued.run_id,
                RunStatus::Scheduled,
                RunStatus::Running,
                true
            )
            .unwrap()
    );
    assert!(
        !store
            .claim_run(
                &queued.run_id,
                RunStatus::Scheduled,
                RunStatus::Running,
                true
            )
            .unwrap()
    );
    // A detached RUNNING run has no owner process, so it is never reaped.
    assert!(store.reap().unwrap().is_empty());
}

/// `transition_run` is a compare-and-set of the run status, written with its batch in one
/// transaction: racing callers, each with its own connection, see exactly one winner, and the
/// losers write nothing.
fn concurrent_transition(uri: &str) {
    let store = open_store(uri).unwrap();
    let exp = store.get_or_create_experiment("transitions").unwrap();
    let run = new_run(store.as_ref(), &exp, "trial", None);
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
            let (uri, run) = (uri.to_string(), run.clone());
            std::thread::spawn(move || {
                let store = open_store(&uri).unwrap();
                let b = Batch {
                    run_id: run,
                    metrics: vec![metric("value", i as f64, 0, 1)],
                    tags: vec![kv("winner", &i.to_string())],
                    ..Default::default()
                };
                store
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

/// Counters handed out from several threads (each with its own connection) never repeat.
fn concurrent_sequence(uri: &str) {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let uri = uri.to_string();
            std::thread::spawn(move || {
                let store = open_store(&uri).unwrap();
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

#[test]
fn sqlite_backend_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
    let store = open_store(&uri).unwrap();
    suite(store.as_ref());
    concurrent_sequence(&uri);
    concurrent_transition(&uri);
    // Re-opening applies no migration twice and keeps the data.
    let again = open_store(&uri).unwrap();
    assert!(again.get_experiment_by_name("suite").unwrap().is_some());
}

#[test]
fn postgres_backend_passes_the_suite() {
    let cluster = hone_test_support::PgCluster::start();
    let store = open_store(&cluster.uri).unwrap();
    suite(store.as_ref());
    concurrent_sequence(&cluster.uri);
    concurrent_transition(&cluster.uri);
    let again = open_store(&cluster.uri).unwrap();
    assert!(again.get_experiment_by_name("suite").unwrap().is_some());
}
