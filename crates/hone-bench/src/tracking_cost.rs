//! What tracking costs a search: the same `hone tune` search (a config with a `[search]`
//! table) run with its trials kept in memory only, in a SQLite store that writes every
//! intermediate value at once, and in one that writes them in batches (what `hone tune`
//! does). Sequential trials are the same in the three (checked). Wall times on a shared
//! machine vary by more than tracking costs, so every call into the trial store is also timed
//! (`store_seconds`): that is the time tracking adds to the search, measured directly.
//!
//!   hone-bench tune-tracking CONFIG [REPEAT]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use hone_study::{TrackTrialStore, open_or_create_study};
use hone_track::{Backend, open_store};
use hone_train::tune::{TuneSpec, prepare_search, run_search};
use hone_tune::Result as TuneResult;
use hone_tune::adapt::SpaceRevision;
use hone_tune::study::{MemoryTrialStore, Study, TrialStore};
use hone_tune::trial::Trial;

/// A trial store that adds up the time spent in its calls.
struct Timed {
    inner: Arc<dyn TrialStore>,
    nanos: AtomicU64,
}

impl Timed {
    fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = f();
        let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(spent, Ordering::Relaxed);
        out
    }
}

impl TrialStore for Timed {
    fn load(&self, since: u64, also: &[u64]) -> TuneResult<Vec<Trial>> {
        self.time(|| self.inner.load(since, also))
    }
    fn create(&self, trial: Trial) -> TuneResult<Trial> {
        self.time(|| self.inner.create(trial))
    }
    fn claim_waiting(&self) -> TuneResult<Option<Trial>> {
        self.time(|| self.inner.claim_waiting())
    }
    fn save(&self, trial: &Trial) -> TuneResult<()> {
        self.time(|| self.inner.save(trial))
    }
    fn finish(&self, trial: &Trial) -> TuneResult<bool> {
        self.time(|| self.inner.finish(trial))
    }
    fn report(&self, trial: &Trial, step: u64, value: f64) -> TuneResult<bool> {
        self.time(|| self.inner.report(trial, step, value))
    }
    fn revisions(&self) -> TuneResult<Vec<SpaceRevision>> {
        self.time(|| self.inner.revisions())
    }
    fn add_revision(&self, revision: &SpaceRevision) -> TuneResult<bool> {
        self.time(|| self.inner.add_revision(revision))
    }
}

/// A trial's number, state and values: what must not change between the modes.
type Outcome = (u64, String, Option<Vec<f64>>);

const MODES: [&str; 3] = ["memory", "sqlite, every report", "sqlite, batched"];

/// Runs the comparison and prints one JSON object: wall seconds per mode, the number of
/// intermediate values reported, and the overhead of each store over memory.
pub fn tracking(args: &[String]) -> Result<(), String> {
    let config = args
        .first()
        .ok_or("usage: hone-bench tune-tracking CONFIG [REPEAT]")?;
    let repeat: usize = args
        .get(1)
        .map_or(Ok(3), |r| r.parse())
        .map_err(|e| format!("REPEAT: {e}"))?;
    let cfg = hone_train::config::load(Path::new(config)).map_err(|e| e.to_string())?;
    let spec = TuneSpec::from_config(&cfg, None).map_err(|e| e.to_string())?;
    let shared = prepare_search(&cfg, &spec).map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("hone-tracking-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    let mut store_seconds: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    let mut outcomes: Vec<Vec<Outcome>> = Vec::new();
    let mut reports = 0;
    for r in 0..repeat {
        for (m, mode) in MODES.iter().enumerate() {
            let store: Arc<dyn TrialStore> = if m == 0 {
                Arc::new(MemoryTrialStore::new())
            } else {
                let uri = format!("sqlite:///{}/store-{r}-{m}.db", dir.display());
                let s: Arc<dyn Backend> = Arc::from(open_store(&uri).map_err(|e| e.to_string())?);
                let (def, exp, _) =
                    open_or_create_study(s.as_ref(), &spec.study).map_err(|e| e.to_string())?;
                let t = TrackTrialStore::new(s, exp, def, false);
                Arc::new(if m == 2 { t.batching_reports() } else { t })
            };
            let timed = Arc::new(Timed {
                inner: store,
                nanos: AtomicU64::new(0),
            });
            let study =
                Study::open(spec.study.clone(), timed.clone()).map_err(|e| e.to_string())?;
            let started = Instant::now();
            run_search(
                &cfg,
                &spec,
                &study,
                shared.as_ref(),
                &AtomicBool::new(false),
                &|_| {},
            )
            .map_err(|e| e.to_string())?;
            let trials = study.trials();
            // Every trial finished, and a finish writes the values its trial held back.
            drop(study);
            let in_store = timed.nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let elapsed = started.elapsed().as_secs_f64();
            seconds[m].push(elapsed);
            store_seconds[m].push(in_store);
            eprintln!(
                "round {}/{repeat}, {mode}: {elapsed:.2} s, {in_store:.3} s in the store",
                r + 1
            );
            reports = trials.iter().map(|t| t.intermediate.len()).sum();
            let outcome: Vec<_> = trials
                .into_iter()
                .map(|t| (t.number, t.state.as_str().to_string(), t.values))
                .collect();
            if let Some(first) = outcomes.first()
                && *first != outcome
            {
                return Err(format!(
                    "{mode}: the trials differ from the in-memory run's"
                ));
            }
            outcomes.push(outcome);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = median(&seconds[0]);
    let out: serde_json::Map<String, serde_json::Value> = MODES
        .iter()
        .zip(seconds.iter().zip(&store_seconds))
        .map(|(mode, (s, st))| {
            let m = median(s);
            let share: Vec<f64> = st.iter().zip(s).map(|(a, b)| a / b).collect();
            (
                mode.to_string(),
                serde_json::json!({
                    "seconds": s, "median": m, "overhead": m / base - 1.0,
                    "store_seconds": st, "store_share": median(&share),
                }),
            )
        })
        .collect();
    let mut out = out;
    out.insert("intermediate_values".into(), serde_json::json!(reports));
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
