//! Studies persisted in the tracking store: the [`TrialStore`] that lets any number of
//! processes (CLI, server, workers) share one study. Knows the store and the tuning engine,
//! never models, data or LightGBM.
//!
//! A study is an experiment whose `hone.study` tag holds its [`StudyDef`] (JSON); each trial is
//! a run of that experiment. The run's `hone.trial` tag holds the trial record (state, internal
//! params, values, intermediate values), the metric `hone.trial_number` its number (so new
//! trials are found with one indexed search), and — once finished — MLflow params (the
//! user-facing values), objective metrics and the `intermediate` metric history, so every MLflow
//! client and `hone runs` can read trials like any other run. Trial numbers come from the
//! store's atomic counter, and enqueued trials are claimed with a compare-and-set on the run
//! status, so any number of processes can share a study.

// Library policy (ARCHITECTURE.md, invariant 14): no unwrap on data from a user or a file.
#![warn(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hone_track::store::{Batch, NewRun, SearchRequest, search_all};
use hone_track::{Backend, Lease, LeaseKeeper, Metric, MetricPoint, RunStatus, Store, TrackError};
use hone_tune::adapt::SpaceRevision;
use hone_tune::study::{StudyDef, TrialStore};
use hone_tune::trial::{Trial, TrialState};
use hone_tune::{Result, TuneError};
use serde_json::{Value, json};

use hone_track::keys::{
    INTERMEDIATE as INTERMEDIATE_METRIC, SPACE_REVISION_PREFIX, STUDY_DEF as STUDY_TAG,
    TRIAL_NUMBER as NUMBER_METRIC, TRIAL_RECORD as TRIAL_TAG, TRIAL_STATE as STATE_TAG,
};

fn storage(e: TrackError) -> TuneError {
    TuneError::Storage(e.to_string())
}

/// Checks that the study's results can be stored: objective names are metric keys and
/// parameter names param keys (else every trial would run and then fail to be told), and no
/// objective takes a name the study itself uses.
fn check_keys(def: &StudyDef) -> Result<()> {
    for name in &def.objectives {
        if name == NUMBER_METRIC || name == INTERMEDIATE_METRIC {
            return Err(TuneError::Invalid(format!(
                "objective name {name:?} is reserved for the study's own records"
            )));
        }
        hone_track::validate_key("metric", name)
            .map_err(|e| TuneError::Invalid(format!("objective name: {e}")))?;
    }
    for p in &def.space.params {
        hone_track::validate_key("param", &p.name)
            .map_err(|e| TuneError::Space(format!("[{}]: {e}", p.name)))?;
    }
    Ok(())
}

/// Creates a new study in the store; fails if the name is taken.
pub fn create_study(store: &dyn Store, def: &StudyDef) -> Result<String> {
    def.validate()?;
    check_keys(def)?;
    if store
        .get_experiment_by_name(&def.name)
        .map_err(storage)?
        .is_some()
    {
        return Err(TuneError::Invalid(format!(
            "study (experiment) {:?} already exists in {}; pick another name or resume it",
            def.name,
            store.location()
        )));
    }
    let json = serde_json::to_string(def).map_err(|e| TuneError::Storage(e.to_string()))?;
    store
        .create_experiment(&def.name, &[(STUDY_TAG.to_string(), json)])
        .map_err(storage)
}

/// Loads a study's definition and experiment id by name.
pub fn load_study(store: &dyn Store, name: &str) -> Result<(StudyDef, String)> {
    let exp = store
        .get_experiment_by_name(name)
        .map_err(storage)?
        .ok_or_else(|| {
            TuneError::Invalid(format!(
                "no study named {name:?} in {} (create it with `hone study create`)",
                store.location()
            ))
        })?;
    let def = study_of(&exp).ok_or_else(|| {
        TuneError::Invalid(format!(
            "experiment {name:?} exists but is not a study (it has no {STUDY_TAG} tag)"
        ))
    })??;
    Ok((def, exp.experiment_id))
}

/// The study an experiment holds: `None` when it is not a study, an error when its
/// definition cannot be read.
pub fn study_of(exp: &hone_track::Experiment) -> Option<Result<StudyDef>> {
    let json = exp.tags.iter().find(|(k, _)| k == STUDY_TAG)?;
    Some(serde_json::from_str(&json.1).map_err(|e| {
        TuneError::Storage(format!("study {:?}: unreadable definition: {e}", exp.name))
    }))
}

/// Opens `def.name` if it exists (checking it has the same space and directions: a resumed
/// study must be the same study), or creates it. Returns the definition to use (the caller's:
/// its sampler, pruner and seed apply to the trials it runs), the experiment id, and whether
/// the study already existed.
pub fn open_or_create_study(store: &dyn Store, def: &StudyDef) -> Result<(StudyDef, String, bool)> {
    if store
        .get_experiment_by_name(&def.name)
        .map_err(storage)?
        .is_none()
    {
        match create_study(store, def) {
            Ok(id) => return Ok((def.clone(), id, false)),
            // Another worker created it between our check and our insert: join it.
            Err(e)
                if store
                    .get_experiment_by_name(&def.name)
                    .map_err(storage)?
                    .is_none() =>
            {
                return Err(e);
            }
            Err(_) => {}
        }
    }
    let (stored, id) = load_study(store, &def.name)?;
    if stored.space != def.space || stored.directions != def.directions {
        return Err(TuneError::Invalid(format!(
            "study {:?} already exists with a different search space or directions; resume it \
             with the same [search] section or give the new search another study name",
            def.name
        )));
    }
    // Same space and directions: the caller's sampler, pruner and seed apply from now on (as
    // with Optuna's `load_if_exists`), so a pruner changed in the config takes effect.
    Ok((def.clone(), id, true))
}

/// A [`TrialStore`] over a tracking [`Store`].
pub struct TrackTrialStore {
    store: Arc<dyn Backend>,
    experiment_id: String,
    def: StudyDef,
    /// The lease owning the trials this store runs (`None`: detached, nobody owns them).
    owner: Option<LeaseKeeper>,
    run_ids: Mutex<HashMap<u64, String>>,
    /// With [`TrackTrialStore::batching_reports`]: intermediate values not yet written, per
    /// trial (its latest record and the points), and when each trial was last written.
    pending: Option<Mutex<HashMap<u64, PendingReports>>>,
}

/// Reports of one trial held back by a batching [`TrackTrialStore`].
#[derive(Debug)]
struct PendingReports {
    trial: Trial,
    points: Vec<Metric>,
    written: Instant,
}

/// A batching store writes a trial's held-back reports once this many are pending...
const REPORTS_PER_WRITE: usize = 1000;
/// ... or once its last write is this old, so other workers see progress within about a second.
const REPORT_WRITE_INTERVAL: Duration = Duration::from_secs(1);

impl Drop for TrackTrialStore {
    fn drop(&mut self) {
        // Best effort: a store that cannot be written now has reported that already.
        let _ = self.flush_reports();
    }
}

/// A float as JSON: a number when finite, else its text (`inf`, `-inf`, `NaN`), which
/// JSON numbers cannot hold and `str::parse` reads back.
pub fn json_number(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        json!(v.to_string())
    }
}

/// The user-facing params of a trial as a JSON object (definition order).
pub fn params_json(def: &StudyDef, t: &Trial) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in def.space.external(&t.params) {
        m.insert(k, serde_json::to_value(&v).unwrap_or(Value::Null));
    }
    Value::Object(m)
}

/// A trial as JSON.
pub fn trial_json(def: &StudyDef, t: &Trial) -> Value {
    let mut o = json!({
        "trial": t.number,
        "state": t.state.as_str(),
        "params": params_json(def, t),
    });
    if let Some(v) = &t.values {
        o["values"] = Value::Array(v.iter().map(|x| json_number(*x)).collect());
        if v.len() == 1 {
            o["value"] = json_number(v[0]);
        }
    }
    if !t.intermediate.is_empty() {
        o["intermediate"] = t
            .intermediate
            .iter()
            .map(|(s, v)| (s.to_string(), json_number(*v)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    if let Some(c) = &t.constraints {
        o["constraints"] = Value::Array(c.iter().map(|x| json_number(*x)).collect());
        o["feasible"] = json!(t.is_feasible());
    }
    if let Some(d) = t.duration_ms() {
        o["duration_ms"] = json!(d);
    }
    o
}

fn unnum(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn encode(t: &Trial) -> String {
    let mut o = serde_json::Map::new();
    o.insert("number".into(), json!(t.number));
    o.insert("state".into(), json!(t.state.as_str()));
    o.insert("params".into(), json!(t.params));
    if let Some(v) = &t.values {
        o.insert(
            "values".into(),
            Value::Array(v.iter().map(|x| json_number(*x)).collect()),
        );
    }
    if let Some(c) = &t.constraints {
        o.insert(
            "constraints".into(),
            Value::Array(c.iter().map(|x| json_number(*x)).collect()),
        );
    }
    // Intermediate values live in the `intermediate` metric history (one point per step), not
    // in this tag: a trial reporting every boosting round of every fold has thousands, and a
    // tag holds at most MAX_TAG_VALUE characters. The count says whether to read them back.
    if !t.intermediate.is_empty() {
        o.insert("n_intermediate".into(), json!(t.intermediate.len()));
    }
    if let Some(s) = t.started_ms {
        o.insert("started_ms".into(), json!(s));
    }
    if let Some(s) = t.finished_ms {
        o.insert("finished_ms".into(), json!(s));
    }
    Value::Object(o).to_string()
}

/// A trial record and how many intermediate values it has in the metric history.
fn decode(text: &str) -> Option<(Trial, usize)> {
    let v: Value = serde_json::from_str(text).ok()?;
    let floats =
        |key: &str| -> Option<Vec<f64>> { v.get(key)?.as_array()?.iter().map(unnum).collect() };
    let mut t = Trial::new(
        v.get("number")?.as_u64()?,
        TrialState::parse(v.get("state")?.as_str()?)?,
        serde_json::from_value(v.get("params")?.clone()).ok()?,
    );
    t.values = floats("values");
    t.constraints = floats("constraints");
    t.started_ms = v.get("started_ms").and_then(Value::as_i64);
    t.finished_ms = v.get("finished_ms").and_then(Value::as_i64);
    let n = v.get("n_intermediate").and_then(Value::as_u64).unwrap_or(0) as usize;
    Some((t, n))
}

impl TrackTrialStore {
    /// Trials of the study `def` stored in experiment `experiment_id`. The runs it creates or
    /// claims are owned by a lease of this store, renewed while it lives; with `detached` they
    /// are not owned (for `hone study ask`, whose trials are finished by later processes), so
    /// they are never reaped as dead.
    pub fn new(
        store: Arc<dyn Backend>,
        experiment_id: String,
        def: StudyDef,
        detached: bool,
    ) -> Self {
        TrackTrialStore {
            owner: (!detached).then(|| LeaseKeeper::new(store.clone())),
            store,
            experiment_id,
            def,
            run_ids: Mutex::new(HashMap::new()),
            pending: None,
        }
    }

    /// Holds intermediate values back and writes each trial's in one transaction per
    /// [`REPORTS_PER_WRITE`] values or [`REPORT_WRITE_INTERVAL`], and with its final state: a
    /// trial reporting every boosting round then costs a few writes instead of thousands.
    /// Call [`TrackTrialStore::flush_reports`] (or drop the store) before the process ends; the
    /// finished trial's write carries all its values in any case. For long-lived workers (`hone
    /// tune`), not for one-shot commands.
    pub fn batching_reports(mut self) -> Self {
        self.pending = Some(Mutex::new(HashMap::new()));
        self
    }

    /// Writes every held-back intermediate value now.
    pub fn flush_reports(&self) -> Result<()> {
        let Some(pending) = &self.pending else {
            return Ok(());
        };
        let drained: Vec<PendingReports> = {
            let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
            p.drain().map(|(_, v)| v).collect()
        };
        for mut r in drained {
            self.write_reports(&mut r)?;
        }
        Ok(())
    }

    /// One transaction: the trial's record and its pending points, if it is still RUNNING.
    fn write_reports(&self, r: &mut PendingReports) -> Result<bool> {
        let run_id = self.run_id(r.trial.number)?;
        let mut batch = self.batch(&run_id, &r.trial)?;
        batch.metrics.append(&mut r.points);
        r.written = Instant::now();
        self.store
            .transition_run(&batch, RunStatus::Running, RunStatus::Running)
            .map_err(storage)
    }

    /// The held-back points of trial `number`, taken out of the buffer.
    fn take_pending(&self, number: u64) -> Vec<Metric> {
        self.pending
            .as_ref()
            .and_then(|p| p.lock().unwrap_or_else(|e| e.into_inner()).remove(&number))
            .map(|r| r.points)
            .unwrap_or_default()
    }

    /// The lease for a trial this store runs (`None` when detached).
    fn lease(&self) -> Result<Option<Lease>> {
        self.owner
            .as_ref()
            .map(|o| o.lease().cloned())
            .transpose()
            .map_err(storage)
    }

    fn remember(&self, number: u64, run_id: &str) {
        if let Ok(mut m) = self.run_ids.lock() {
            m.insert(number, run_id.to_string());
        }
    }

    /// The run id of trial `number`.
    pub fn run_id(&self, number: u64) -> Result<String> {
        if let Some(id) = self
            .run_ids
            .lock()
            .ok()
            .and_then(|m| m.get(&number).cloned())
        {
            return Ok(id);
        }
        let runs = self.search(&format!("metrics.`{NUMBER_METRIC}` = {number}"))?;
        runs.into_iter().next().map(|(_, id)| id).ok_or_else(|| {
            TuneError::Invalid(format!("study {:?} has no trial {number}", self.def.name))
        })
    }

    /// Every trial of the study in number order, with its run id (one search, plus the
    /// intermediate values of the trials that have them).
    pub fn trials_with_runs(&self) -> Result<Vec<(Trial, String)>> {
        self.search("")
    }

    /// Trials matching a filter, with their run ids.
    fn search(&self, filter: &str) -> Result<Vec<(Trial, String)>> {
        let mut out = Vec::new();
        let runs = search_all(
            self.store.as_ref(),
            SearchRequest {
                experiment_ids: vec![self.experiment_id.clone()],
                filter: filter.to_string(),
                order_by: vec![format!("metrics.`{NUMBER_METRIC}` ASC")],
                max_results: 50_000,
                ..Default::default()
            },
        );
        for run in runs {
            let run = run.map_err(storage)?;
            let Some((mut t, n_intermediate)) = run
                .tags
                .iter()
                .find(|(k, _)| k == TRIAL_TAG)
                .and_then(|(_, v)| decode(v))
            else {
                continue;
            };
            if n_intermediate > 0 {
                for p in self
                    .store
                    .metric_history(&run.info.run_id, INTERMEDIATE_METRIC)
                    .map_err(storage)?
                {
                    t.intermediate.insert(p.step as u64, p.value);
                }
            }
            // A worker that died mid-trial leaves RUNNING; the reaper marks its run KILLED.
            if t.state == TrialState::Running
                && matches!(run.info.status, RunStatus::Killed | RunStatus::Failed)
            {
                t.state = TrialState::Fail;
                t.finished_ms = run.info.end_time;
            }
            self.remember(t.number, &run.info.run_id);
            out.push((t, run.info.run_id));
        }
        Ok(out)
    }

    fn batch(&self, run_id: &str, t: &Trial) -> Result<Batch> {
        let record = encode(t);
        if record.len() > hone_track::MAX_TAG_VALUE {
            // The store would cut the tag and the trial would be unreadable: refuse instead.
            return Err(TuneError::Storage(format!(
                "trial {}'s record is {} characters, over the {} a tag holds (too many \
                 parameters in one search space)",
                t.number,
                record.len(),
                hone_track::MAX_TAG_VALUE
            )));
        }
        let mut tags = vec![
            (TRIAL_TAG.to_string(), record),
            (STATE_TAG.to_string(), t.state.as_str().to_string()),
        ];
        let mut params = Vec::new();
        let mut metrics = Vec::new();
        let now = hone_tune::study::now_ms();
        if t.state.is_finished() {
            params = self
                .def
                .space
                .external(&t.params)
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect();
            if let Some(values) = &t.values {
                for (i, v) in values.iter().enumerate() {
                    metrics.push(Metric {
                        key: self.def.objective_name(i),
                        point: MetricPoint {
                            value: *v,
                            timestamp: now,
                            step: 0,
                        },
                    });
                }
            }
            if let Some(d) = t.duration_ms() {
                tags.push((hone_track::keys::TRIAL_DURATION_MS.into(), d.to_string()));
            }
        }
        Ok(Batch {
            run_id: run_id.to_string(),
            metrics,
            params,
            tags,
        })
    }
}

impl TrialStore for TrackTrialStore {
    fn load(&self, since: u64, also: &[u64]) -> Result<Vec<Trial>> {
        let filter = if since == 0 {
            String::new()
        } else {
            format!("metrics.`{NUMBER_METRIC}` >= {since}")
        };
        let mut out: Vec<Trial> = self.search(&filter)?.into_iter().map(|(t, _)| t).collect();
        // Open trials below `since` are re-read: another worker may have finished them.
        for &n in also {
            if n < since
                && let Some((t, _)) = self
                    .search(&format!("metrics.`{NUMBER_METRIC}` = {n}"))?
                    .into_iter()
                    .next()
            {
                out.push(t);
            }
        }
        // A trial of ours still running has reports held back: the store's copy lacks them,
        // our buffer has them all.
        if let Some(pending) = &self.pending {
            let pending = pending.lock().unwrap_or_else(|e| e.into_inner());
            for t in out.iter_mut().filter(|t| t.state == TrialState::Running) {
                if let Some(r) = pending.get(&t.number) {
                    t.intermediate = r.trial.intermediate.clone();
                }
            }
        }
        out.sort_by_key(|t| t.number);
        Ok(out)
    }

    fn create(&self, mut trial: Trial) -> Result<Trial> {
        let number = self
            .store
            .next_sequence(&format!("study:{}", self.experiment_id))
            .map_err(storage)?;
        trial.number = number as u64;
        let status = match trial.state {
            TrialState::Waiting => RunStatus::Scheduled,
            _ => RunStatus::Running,
        };
        // The record and state tags are written with the run, in its transaction: a worker
        // killed right after leaves a trial whose record the reaper can mark FAIL.
        let mut batch = self.batch("", &trial)?;
        let mut tags = vec![(
            hone_track::keys::STUDY_NAME.to_string(),
            self.def.name.clone(),
        )];
        tags.append(&mut batch.tags);
        let info = self
            .store
            .create_run(NewRun {
                experiment_id: self.experiment_id.clone(),
                name: Some(format!("trial-{number}")),
                status: Some(status),
                owner: match trial.state {
                    TrialState::Waiting => None,
                    _ => self.lease()?,
                },
                tags,
                ..Default::default()
            })
            .map_err(storage)?;
        self.remember(trial.number, &info.run_id);
        batch.run_id = info.run_id.clone();
        batch.metrics.push(Metric {
            key: NUMBER_METRIC.into(),
            point: MetricPoint {
                value: number as f64,
                timestamp: hone_tune::study::now_ms(),
                step: 0,
            },
        });
        self.store.log_batches(&[batch]).map_err(storage)?;
        if let Some(status) = run_status(trial.state) {
            self.store.end_run(&info.run_id, status).map_err(storage)?;
        }
        Ok(trial)
    }

    fn claim_waiting(&self) -> Result<Option<Trial>> {
        let waiting = self.search(&format!("tags.`{STATE_TAG}` = 'WAITING'"))?;
        for (mut t, run_id) in waiting {
            let won = self
                .store
                .claim_run(
                    &run_id,
                    RunStatus::Scheduled,
                    RunStatus::Running,
                    self.lease()?.as_ref(),
                )
                .map_err(storage)?;
            if won {
                t.state = TrialState::Running;
                self.save(&t)?;
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    fn save(&self, trial: &Trial) -> Result<()> {
        let run_id = self.run_id(trial.number)?;
        let mut batch = self.batch(&run_id, trial)?;
        batch.metrics.splice(0..0, self.take_pending(trial.number));
        self.store.log_batches(&[batch]).map_err(storage)?;
        if let Some(s) = run_status(trial.state) {
            self.store.end_run(&run_id, s).map_err(storage)?;
        }
        Ok(())
    }

    fn finish(&self, trial: &Trial) -> Result<bool> {
        let run_id = self.run_id(trial.number)?;
        let mut batch = self.batch(&run_id, trial)?;
        batch.metrics.splice(0..0, self.take_pending(trial.number));
        let to = run_status(trial.state).ok_or_else(|| {
            TuneError::Invalid(format!(
                "trial {} cannot finish as {}",
                trial.number,
                trial.state.as_str()
            ))
        })?;
        // Status, record, state tag and values change in one transaction, and only if the run
        // is still RUNNING: of racing `tell`s exactly one wins.
        self.store
            .transition_run(&batch, RunStatus::Running, to)
            .map_err(storage)
    }

    fn report(&self, trial: &Trial, step: u64, value: f64) -> Result<bool> {
        let step = i64::try_from(step).map_err(|_| {
            TuneError::Invalid(format!(
                "step {step} is over the largest step, {}",
                i64::MAX
            ))
        })?;
        let point = Metric {
            key: INTERMEDIATE_METRIC.into(),
            point: MetricPoint {
                value,
                timestamp: hone_tune::study::now_ms(),
                step,
            },
        };
        if let Some(pending) = &self.pending {
            let due = {
                let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
                let r = p.entry(trial.number).or_insert_with(|| PendingReports {
                    trial: trial.clone(),
                    points: Vec::new(),
                    written: Instant::now(),
                });
                r.trial = trial.clone();
                r.points.push(point);
                (r.points.len() >= REPORTS_PER_WRITE
                    || r.written.elapsed() >= REPORT_WRITE_INTERVAL)
                    .then(|| {
                        std::mem::replace(
                            r,
                            PendingReports {
                                trial: trial.clone(),
                                points: Vec::new(),
                                written: Instant::now(),
                            },
                        )
                    })
            };
            return match due {
                Some(mut r) => self.write_reports(&mut r),
                None => Ok(true),
            };
        }
        let run_id = self.run_id(trial.number)?;
        let mut batch = self.batch(&run_id, trial)?;
        batch.metrics.push(point);
        self.store
            .transition_run(&batch, RunStatus::Running, RunStatus::Running)
            .map_err(storage)
    }

    fn revisions(&self) -> Result<Vec<SpaceRevision>> {
        let exp = self
            .store
            .get_experiment(&self.experiment_id)
            .map_err(storage)?;
        revisions_of(&exp)
    }

    fn add_revision(&self, revision: &SpaceRevision) -> Result<bool> {
        // The store's counter is the compare-and-set: only the first worker to draw from the
        // counter named after this revision number gets 0 and writes it.
        let claim = self
            .store
            .next_sequence(&format!(
                "study:{}:space_revision:{}",
                self.experiment_id, revision.number
            ))
            .map_err(storage)?;
        if claim != 0 {
            return Ok(false);
        }
        let json =
            serde_json::to_string(revision).map_err(|e| TuneError::Storage(e.to_string()))?;
        self.store
            .set_experiment_tag(
                &self.experiment_id,
                &format!("{SPACE_REVISION_PREFIX}{}", revision.number),
                &json,
            )
            .map_err(storage)?;
        Ok(true)
    }
}

/// The space revisions an experiment's tags hold, in number order (a study that never
/// revised its space has none).
pub fn revisions_of(exp: &hone_track::Experiment) -> Result<Vec<SpaceRevision>> {
    let mut revs = Vec::new();
    for (k, v) in &exp.tags {
        if k.strip_prefix(SPACE_REVISION_PREFIX).is_some() {
            let r: SpaceRevision = serde_json::from_str(v).map_err(|e| {
                TuneError::Storage(format!(
                    "study {:?}: unreadable space revision {k}: {e}",
                    exp.name
                ))
            })?;
            revs.push(r);
        }
    }
    revs.sort_by_key(|r| r.number);
    // Applied in order from 1 up; a gap (a revision claimed but not yet written) ends the
    // list until it is filled.
    let upto = revs
        .iter()
        .enumerate()
        .take_while(|(i, r)| r.number as usize == i + 1)
        .count();
    revs.truncate(upto);
    Ok(revs)
}

/// The run status of a finished trial state (`None` while it is WAITING or RUNNING).
fn run_status(state: TrialState) -> Option<RunStatus> {
    match state {
        TrialState::Complete | TrialState::Pruned => Some(RunStatus::Finished),
        TrialState::Fail => Some(RunStatus::Failed),
        TrialState::Waiting | TrialState::Running => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hone_tune::adapt::{RangeChange, Side};
    use hone_tune::space::{Distribution, SearchSpace};
    use hone_tune::trial::Direction;

    fn revision(number: u32, high: f64) -> SpaceRevision {
        SpaceRevision {
            number,
            after_trial: 9,
            finished: 10,
            changes: vec![RangeChange {
                param: "x".into(),
                side: Side::High,
                from: Distribution::Float {
                    low: 0.0,
                    high: 1.0,
                    log: false,
                    step: None,
                },
                to: Distribution::Float {
                    low: 0.0,
                    high,
                    log: false,
                    step: None,
                },
                reason: "test".into(),
            }],
        }
    }

    #[test]
    fn one_worker_stores_each_revision_and_every_worker_reads_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let uri = format!("sqlite:///{}/s.db", dir.path().display());
        let store: Arc<dyn Backend> =
            Arc::from(hone_track::open_store(&uri).expect("open the store"));
        let def = StudyDef {
            name: "revs".into(),
            space: SearchSpace::from_toml_str("[x]\ntype = \"float\"\nlow = 0\nhigh = 1\n")
                .expect("space"),
            directions: vec![Direction::Minimize],
            objectives: vec![],
            sampler: hone_tune::sampler::SamplerSpec::Random,
            pruner: Default::default(),
            seed: 1,
            adapt: Some(Default::default()),
        };
        let id = create_study(store.as_ref(), &def).expect("create");
        let a = TrackTrialStore::new(store.clone(), id.clone(), def.clone(), true);
        let b = TrackTrialStore::new(store.clone(), id, def, true);
        assert!(a.revisions().expect("read").is_empty());
        // Two workers propose revision 1 from different evidence: the first one wins.
        assert!(a.add_revision(&revision(1, 1.5)).expect("add"));
        assert!(!b.add_revision(&revision(1, 2.0)).expect("add"));
        assert_eq!(b.revisions().expect("read"), vec![revision(1, 1.5)]);
        // A revision whose predecessor is not written yet waits for it.
        assert!(a.add_revision(&revision(3, 3.0)).expect("add"));
        assert_eq!(b.revisions().expect("read").len(), 1);
        assert!(b.add_revision(&revision(2, 2.5)).expect("add"));
        let all: Vec<u32> = a
            .revisions()
            .expect("read")
            .iter()
            .map(|r| r.number)
            .collect();
        assert_eq!(all, [1, 2, 3]);
    }
}
