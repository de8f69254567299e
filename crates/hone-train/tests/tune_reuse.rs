//! A search's speed-ups change no trial's result: trials that reuse each fold's preprocessing
//! and binned datasets (`[search] cache_mb`) and a store that writes intermediate values in
//! batches give the same states, values and intermediate values, trial for trial, as trials
//! that build everything themselves and write every report at once.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use hone_study::{TrackTrialStore, open_or_create_study};
use hone_track::{Backend, open_store};
use hone_train::config::{self, LoadedConfig};
use hone_train::tune::{TuneSpec, prepare_search, run_search};
use hone_tune::study::{MemoryTrialStore, Study, TrialStore};
use hone_tune::trial::{Trial, TrialState};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 1,200 time-ordered rows: three informative features, a noise feature and a rare 0/1 flag
/// (~3 % ones: LightGBM's feature pre-filter drops it at large `min_data_in_leaf`).
fn write_data(path: &Path) {
    let mut rng = Lcg(11);
    let mut s = String::from("t,f0,f1,f2,f3,flag,y\n");
    for i in 0..1200 {
        let f: Vec<f64> = (0..4).map(|_| rng.next() - 0.5).collect();
        let flag = u8::from(rng.next() < 0.03);
        let y =
            u8::from(f[0] + f[1] * f[2] + 0.3 * f64::from(flag) + 0.4 * (rng.next() - 0.5) > 0.0);
        let _ = writeln!(s, "{i},{},{},{},{},{flag},{y}", f[0], f[1], f[2], f[3]);
    }
    std::fs::write(path, s).unwrap();
}

fn config(dir: &Path, extra: &str) -> LoadedConfig {
    write_data(&dir.join("data.csv"));
    let pruner = if extra.contains("pruner") {
        ""
    } else {
        r#"pruner = { type = "median", n_startup_trials = 2 }"#
    };
    let text = format!(
        r#"
seed = 5
[data]
path = "data.csv"
time_column = "t"
[target]
kind = "column"
column = "y"
task = "binary"
horizon = 1
[preprocess]
scale = "robust"
[split]
scheme = "timeseries"
n_splits = 4
holdout = 0.1
[model]
type = "lightgbm"
early_stopping_rounds = 5
[model.params]
num_iterations = 60
num_threads = 1
[search]
sampler = "random"
{pruner}
n_trials = 10
metric = "roc_auc"
{extra}
[search.space.learning_rate]
type = "float"
low = 0.02
high = 0.3
log = true
[search.space.num_leaves]
type = "int"
low = 3
high = 16
[search.space.min_data_in_leaf]
type = "int"
low = 5
high = 60
"#
    );
    let path = dir.join(format!("job{}.toml", extra.len()));
    std::fs::write(&path, text).unwrap();
    config::load(&path).unwrap()
}

/// Runs the search on `store` and returns its trials without timestamps.
fn search(cfg: &LoadedConfig, store: Arc<dyn TrialStore>) -> Vec<Trial> {
    search_jobs(cfg, store, None)
}

fn search_jobs(cfg: &LoadedConfig, store: Arc<dyn TrialStore>, jobs: Option<usize>) -> Vec<Trial> {
    let spec = TuneSpec::from_config(cfg, jobs).unwrap();
    let shared = prepare_search(cfg, &spec).unwrap();
    assert!(shared.is_some(), "trials share the folds");
    let study = Study::open(spec.study.clone(), store).unwrap();
    run_search(
        cfg,
        &spec,
        &study,
        shared.as_ref(),
        &AtomicBool::new(false),
        &|_| {},
    )
    .unwrap();
    strip(study.trials())
}

fn strip(trials: Vec<Trial>) -> Vec<Trial> {
    trials
        .into_iter()
        .map(|mut t| {
            t.started_ms = None;
            t.finished_ms = None;
            t
        })
        .collect()
}

fn check_same(a: &[Trial], b: &[Trial]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x, y, "trial {}", x.number);
    }
    assert!(a.iter().any(|t| t.state == TrialState::Complete));
}

#[test]
fn reusing_folds_and_binned_datasets_changes_no_trial() {
    for steps in ["folds", "rounds"] {
        let dir = tempfile::tempdir().unwrap();
        let cached = config(dir.path(), &format!("steps = \"{steps}\""));
        let uncached = config(dir.path(), &format!("steps = \"{steps}\"\ncache_mb = 0"));
        let a = search(&cached, Arc::new(MemoryTrialStore::new()));
        let b = search(&uncached, Arc::new(MemoryTrialStore::new()));
        check_same(&a, &b);
        assert!(
            a.iter().any(|t| t.state == TrialState::Pruned),
            "steps = {steps}: the pruner had intermediate values to work with"
        );
    }
}

#[test]
fn parallel_trials_share_the_cached_datasets_safely() {
    // Random points depend only on the trial number and nothing prunes, so two trials at once
    // on shared binned datasets must give what one at a time without the cache gives.
    let dir = tempfile::tempdir().unwrap();
    let cached = config(dir.path(), "pruner = \"none\"");
    let uncached = config(dir.path(), "pruner = \"none\"\ncache_mb = 0");
    let mut a = search_jobs(&cached, Arc::new(MemoryTrialStore::new()), Some(2));
    let mut b = search_jobs(&uncached, Arc::new(MemoryTrialStore::new()), Some(1));
    a.sort_by_key(|t| t.number);
    b.sort_by_key(|t| t.number);
    check_same(&a, &b);
}

#[test]
fn batched_reports_reach_the_store_and_prune_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "steps = \"rounds\"");
    let spec = TuneSpec::from_config(&cfg, None).unwrap();
    let mut runs = Vec::new();
    for batched in [false, true] {
        let uri = format!("sqlite:///{}/store{batched}.db", dir.path().display());
        let store: Arc<dyn Backend> = Arc::from(open_store(&uri).unwrap());
        let (def, experiment, _) = open_or_create_study(store.as_ref(), &spec.study).unwrap();
        let trials = TrackTrialStore::new(store.clone(), experiment.clone(), def.clone(), false);
        let trials = if batched {
            trials.batching_reports()
        } else {
            trials
        };
        let trials = Arc::new(trials);
        let seen = search(&cfg, trials.clone());
        trials.flush_reports().unwrap();
        // A fresh reader of the store (another process) sees every intermediate value.
        let reread = strip(
            TrackTrialStore::new(store, experiment, def, false)
                .load(0, &[])
                .unwrap(),
        );
        check_same(&seen, &reread);
        runs.push(seen);
    }
    check_same(&runs[0], &runs[1]);
    assert!(runs[1].iter().any(|t| t.intermediate.len() > 20));
}
