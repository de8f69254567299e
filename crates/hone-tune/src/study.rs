//! The ask/tell study.
//!
//! A [`Study`] owns a sampler and a pruner and keeps an in-memory copy of its trials, kept in
//! step with a [`TrialStore`]: the store is the single source of truth (it allocates trial
//! numbers and hands out enqueued trials atomically), so several processes, on one machine or
//! many, can work on one study at once. Every `ask` first pulls the trials other workers
//! created or finished since the last call (an incremental read, not a rescan).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::adapt::{self, AdaptSpec, SpaceRevision};
use crate::error::{Result, TuneError};
use crate::pareto;
use crate::pruner::{PruneContext, Pruner, PrunerSpec, StepValues};
use crate::sampler::{SampleContext, Sampler, SamplerSpec};
use crate::space::{ParamDef, ParamValue, Params, SearchSpace};
use crate::trial::{Direction, Trial, TrialState};

/// Everything that defines a study; stored with it so that re-opening it by name resumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyDef {
    /// Unique name.
    pub name: String,
    /// The search space.
    pub space: SearchSpace,
    /// One direction per objective.
    pub directions: Vec<Direction>,
    /// Objective names (e.g. the metric names), one per direction; may be empty.
    #[serde(default)]
    pub objectives: Vec<String>,
    /// The sampler and its options.
    pub sampler: SamplerSpec,
    /// The pruner and its options.
    #[serde(default)]
    pub pruner: PrunerSpec,
    /// The seed every random choice derives from.
    pub seed: u64,
    /// Adaptive ranges (`None`: the space never changes); see [`crate::adapt`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapt: Option<AdaptSpec>,
}

impl StudyDef {
    /// Checks the definition (directions present, objectives named consistently).
    pub fn validate(&self) -> Result<()> {
        if self.directions.is_empty() {
            return Err(TuneError::Invalid(
                "a study needs at least one direction".into(),
            ));
        }
        if !self.objectives.is_empty() && self.objectives.len() != self.directions.len() {
            return Err(TuneError::Invalid(format!(
                "{} objective names for {} directions",
                self.objectives.len(),
                self.directions.len()
            )));
        }
        if self.space.params.is_empty() {
            return Err(TuneError::Space(
                "the search space has no parameters".into(),
            ));
        }
        self.space.validate()
    }

    /// Display name of objective `i`.
    pub fn objective_name(&self, i: usize) -> String {
        self.objectives.get(i).cloned().unwrap_or_else(|| {
            if self.directions.len() == 1 {
                "value".into()
            } else {
                format!("value_{i}")
            }
        })
    }
}

/// Where a study's trials live. Implementations must allocate trial numbers and claim waiting
/// trials atomically, since several workers may share one store.
pub trait TrialStore: Send + Sync {
    /// Trials numbered `>= since`, plus the current records of the trials numbered in `also`,
    /// in number order.
    fn load(&self, since: u64, also: &[u64]) -> Result<Vec<Trial>>;
    /// Stores a new trial under the next free number (the given number is ignored) and returns
    /// it with its number.
    fn create(&self, trial: Trial) -> Result<Trial>;
    /// Moves the lowest-numbered WAITING trial to RUNNING and returns it.
    fn claim_waiting(&self) -> Result<Option<Trial>>;
    /// Overwrites a trial's record.
    fn save(&self, trial: &Trial) -> Result<()>;
    /// Stores `trial`, which holds its final state and values, if the stored trial is still
    /// RUNNING; returns `false`, writing nothing, when it is not. The check and the write are
    /// one atomic step (a compare-and-set), so of several workers finishing one trial exactly
    /// one wins and no result overwrites another.
    fn finish(&self, trial: &Trial) -> Result<bool>;
    /// Records that `trial` (already holding the new point) reported `value` at `step`, if the
    /// stored trial is still RUNNING (atomically, as [`TrialStore::finish`]); returns `false`,
    /// writing nothing, when it is not, so a late report never turns a finished trial back.
    fn report(&self, trial: &Trial, step: u64, value: f64) -> Result<bool>;
    /// The study's space revisions, in number order (empty while the space never changed).
    fn revisions(&self) -> Result<Vec<SpaceRevision>>;
    /// Stores `revision` unless a revision with its number exists already (another worker's,
    /// made from the same or other evidence); returns whether this call stored it. The check
    /// and the write are one atomic step, so workers agree on every revision.
    fn add_revision(&self, revision: &SpaceRevision) -> Result<bool>;
}

/// A [`TrialStore`] in memory (tests, benchmarks, throwaway studies).
#[derive(Debug, Default)]
pub struct MemoryTrialStore {
    trials: Mutex<Vec<Trial>>,
    revisions: Mutex<Vec<SpaceRevision>>,
}

impl MemoryTrialStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Trial>> {
        self.trials.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TrialStore for MemoryTrialStore {
    fn load(&self, since: u64, also: &[u64]) -> Result<Vec<Trial>> {
        Ok(self
            .lock()
            .iter()
            .filter(|t| t.number >= since || also.contains(&t.number))
            .cloned()
            .collect())
    }

    fn create(&self, mut trial: Trial) -> Result<Trial> {
        let mut trials = self.lock();
        trial.number = trials.len() as u64;
        trials.push(trial.clone());
        Ok(trial)
    }

    fn claim_waiting(&self) -> Result<Option<Trial>> {
        let mut trials = self.lock();
        Ok(trials
            .iter_mut()
            .find(|t| t.state == TrialState::Waiting)
            .map(|t| {
                t.state = TrialState::Running;
                t.clone()
            }))
    }

    fn save(&self, trial: &Trial) -> Result<()> {
        let mut trials = self.lock();
        *Self::slot(&mut trials, trial.number)? = trial.clone();
        Ok(())
    }

    fn finish(&self, trial: &Trial) -> Result<bool> {
        self.replace_running(trial)
    }

    fn report(&self, trial: &Trial, _step: u64, _value: f64) -> Result<bool> {
        self.replace_running(trial)
    }

    fn revisions(&self) -> Result<Vec<SpaceRevision>> {
        Ok(self
            .revisions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }

    fn add_revision(&self, revision: &SpaceRevision) -> Result<bool> {
        let mut revs = self.revisions.lock().unwrap_or_else(|e| e.into_inner());
        if revs.len() + 1 != revision.number as usize {
            return Ok(false);
        }
        revs.push(revision.clone());
        Ok(true)
    }
}

impl MemoryTrialStore {
    fn slot(trials: &mut [Trial], number: u64) -> Result<&mut Trial> {
        usize::try_from(number)
            .ok()
            .and_then(|i| trials.get_mut(i))
            .ok_or(TuneError::Invalid(format!("no trial {number}")))
    }

    /// Replaces the stored trial under the lock if it is RUNNING.
    fn replace_running(&self, trial: &Trial) -> Result<bool> {
        let mut trials = self.lock();
        let slot = Self::slot(&mut trials, trial.number)?;
        if slot.state != TrialState::Running {
            return Ok(false);
        }
        *slot = trial.clone();
        Ok(true)
    }
}

/// The error for telling or reporting a trial that is not RUNNING.
fn not_running(number: u64, state: TrialState) -> TuneError {
    if state.is_finished() {
        TuneError::Invalid(format!(
            "trial {number} is {}: it is already finished and cannot be told or reported again",
            state.as_str()
        ))
    } else {
        TuneError::Invalid(format!(
            "trial {number} is {}, not RUNNING (ask for it first)",
            state.as_str()
        ))
    }
}

/// The state a trial finishes in given its values: any NaN value fails it (as in Optuna: NaN
/// is no measurement), otherwise it is COMPLETE. `tell` and `add_completed` share it, so a
/// warm-start point is judged like an evaluated one.
fn state_of_values(values: &[f64]) -> TrialState {
    if values.iter().any(|x| x.is_nan()) {
        TrialState::Fail
    } else {
        TrialState::Complete
    }
}

/// Refuses NaN constraint values: a NaN is neither feasible nor a violation, so it cannot be
/// ranked (Optuna refuses it too).
fn check_constraints(number: Option<u64>, constraints: &[f64]) -> Result<()> {
    if constraints.iter().any(|c| c.is_nan()) {
        let who = number.map(|n| format!("trial {n}: ")).unwrap_or_default();
        return Err(TuneError::Invalid(format!(
            "{who}constraint values cannot be NaN"
        )));
    }
    Ok(())
}

/// How a trial ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished with one value per objective.
    Complete(Vec<f64>),
    /// Finished with values and constraint values (feasible when all are `<= 0`).
    Constrained(Vec<f64>, Vec<f64>),
    /// Stopped by a pruner.
    Pruned,
    /// Failed.
    Fail,
}

struct State {
    trials: Vec<Trial>,
    sampler: Box<dyn Sampler>,
    /// The space as revised so far (the definition's space when it never changed).
    space: SearchSpace,
    /// The revisions applied to get it.
    revisions: Vec<SpaceRevision>,
}

impl State {
    fn position(&self, number: u64) -> Result<usize> {
        self.trials
            .binary_search_by_key(&number, |t| t.number)
            .map_err(|_| TuneError::Invalid(format!("the study has no trial {number}")))
    }

    fn merge(&mut self, fresh: Vec<Trial>) {
        for t in fresh {
            match self.trials.binary_search_by_key(&t.number, |x| x.number) {
                Ok(i) => self.trials[i] = t,
                Err(i) => self.trials.insert(i, t),
            }
        }
    }
}

/// An ask/tell study. All methods take `&self` and may be called from several threads.
pub struct Study {
    def: StudyDef,
    store: Arc<dyn TrialStore>,
    pruner: Box<dyn Pruner>,
    state: Mutex<State>,
    /// Refuses bounds an adaptive space must not move to (see [`Study::with_bound_check`]).
    bound_check: Option<BoundCheckFn>,
    /// Finished trials of earlier studies, shown to samplers that learn from them (warm
    /// start, see [`Study::with_priors`]).
    priors: Vec<Trial>,
}

/// A caller's check of a bound an adaptive space would move to: `false` refuses the value.
pub type BoundCheckFn = Box<dyn Fn(&ParamDef, f64) -> bool + Send + Sync>;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Study {
    /// Opens a study over `store`, loading the trials it already has (a resumed study
    /// continues where it stopped: samplers rebuild their state from the trials).
    pub fn open(def: StudyDef, store: Arc<dyn TrialStore>) -> Result<Self> {
        def.validate()?;
        let revisions = store.revisions()?;
        let space = adapt::current_space(&def.space, &revisions);
        let sampler = def.sampler.build(&space, &def.directions)?;
        let pruner = def.pruner.build()?;
        let trials = store.load(0, &[])?;
        Ok(Study {
            def,
            store,
            pruner,
            state: Mutex::new(State {
                trials,
                sampler,
                space,
                revisions,
            }),
            bound_check: None,
            priors: Vec::new(),
        })
    }

    /// Adds finished trials of earlier studies as prior observations: samplers that learn
    /// from results (TPE, GP) model them with the study's own trials, as its oldest ones, so
    /// they count towards start-up and shape the first suggestions. They are not trials of
    /// this study: not stored, not in its budget, never its best. Each must be COMPLETE with
    /// one value per objective and internal params of this study's space (missing params are
    /// allowed: samplers treat them as inactive).
    pub fn with_priors(mut self, priors: Vec<Trial>) -> Result<Self> {
        for t in &priors {
            let ok = t.state == TrialState::Complete
                && t.values
                    .as_ref()
                    .is_some_and(|v| v.len() == self.def.directions.len());
            if !ok {
                return Err(TuneError::Invalid(format!(
                    "a prior observation must be COMPLETE with {} value(s)",
                    self.def.directions.len()
                )));
            }
        }
        self.priors = priors;
        Ok(self)
    }

    /// The prior observations (see [`Study::with_priors`]).
    pub fn priors(&self) -> &[Trial] {
        &self.priors
    }

    /// Adds a check of the bounds an adaptive space may move to (a trainer's limits): a
    /// refused value makes the range move less, or not at all.
    pub fn with_bound_check(mut self, check: BoundCheckFn) -> Self {
        self.bound_check = Some(check);
        self
    }

    /// The search space as revised so far.
    pub fn space(&self) -> SearchSpace {
        self.lock().space.clone()
    }

    /// The space revisions so far, in order.
    pub fn revisions(&self) -> Vec<SpaceRevision> {
        self.lock().revisions.clone()
    }

    /// Takes the store's revisions when they differ from ours (another worker revised, or a
    /// revision of ours lost the race), rebuilding the sampler for the new space.
    fn sync_revisions(&self, st: &mut State) -> Result<()> {
        let revisions = self.store.revisions()?;
        if revisions != st.revisions {
            st.space = adapt::current_space(&self.def.space, &revisions);
            st.sampler = self.def.sampler.build(&st.space, &self.def.directions)?;
            st.revisions = revisions;
        }
        Ok(())
    }

    /// After a trial finished: stores the revision the evidence calls for, if any.
    fn adapt_locked(&self, st: &mut State) -> Result<()> {
        let Some(spec) = &self.def.adapt else {
            return Ok(());
        };
        let accept_all = |_: &ParamDef, _: f64| true;
        let check: adapt::BoundCheck<'_> = match &self.bound_check {
            Some(c) => c.as_ref(),
            None => &accept_all,
        };
        let Some(rev) = adapt::propose(
            &st.space,
            spec,
            &st.trials,
            &self.def.directions,
            &st.revisions,
            check,
        ) else {
            return Ok(());
        };
        self.store.add_revision(&rev)?;
        // Won or lost, the store now holds revision `rev.number`: take what it holds.
        self.sync_revisions(st)
    }

    /// An in-memory study.
    pub fn in_memory(def: StudyDef) -> Result<Self> {
        Self::open(def, Arc::new(MemoryTrialStore::new()))
    }

    /// The study's definition.
    pub fn def(&self) -> &StudyDef {
        &self.def
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn refresh_locked(&self, st: &mut State) -> Result<()> {
        // From the first number not seen yet, not from the last one seen: numbers come from a
        // counter before the trial's record is committed, so another worker's lower-numbered
        // trial can become visible after a higher one. Starting past it lost that trial for
        // good, and a shared budget overshot (12 trials for 10 with two workers).
        let since = st
            .trials
            .iter()
            .enumerate()
            .find(|(i, t)| t.number != *i as u64)
            .map_or(st.trials.len() as u64, |(i, _)| i as u64);
        let open: Vec<u64> = st
            .trials
            .iter()
            .filter(|t| !t.state.is_finished())
            .map(|t| t.number)
            .collect();
        let fresh = self.store.load(since, &open)?;
        st.merge(fresh);
        if self.def.adapt.is_some() {
            self.sync_revisions(st)?;
        }
        Ok(())
    }

    /// Pulls trials created or changed by other workers.
    pub fn refresh(&self) -> Result<()> {
        let mut st = self.lock();
        self.refresh_locked(&mut st)
    }

    /// Starts a trial: an enqueued one if any is waiting, otherwise one the sampler chooses.
    pub fn ask(&self) -> Result<Trial> {
        let mut st = self.lock();
        self.refresh_locked(&mut st)?;
        if let Some(mut t) = self.store.claim_waiting()? {
            t.started_ms = Some(now_ms());
            self.store.save(&t)?;
            st.merge(vec![t.clone()]);
            return Ok(t);
        }
        let predicted = st.trials.last().map_or(0, |t| t.number + 1);
        let params = self.sample(&mut st, predicted)?;
        let mut trial = Trial::new(0, TrialState::Running, params);
        trial.started_ms = Some(now_ms());
        let mut trial = self.store.create(trial)?;
        if trial.number != predicted {
            // Another worker took the predicted number: draw again for the real one, so the
            // point depends only on (seed, number) as in a sequential run.
            st.merge(vec![trial.clone()]);
            self.refresh_locked(&mut st)?;
            trial.params = self.sample(&mut st, trial.number)?;
            self.store.save(&trial)?;
        }
        st.merge(vec![trial.clone()]);
        Ok(trial)
    }

    fn sample(&self, st: &mut State, number: u64) -> Result<Params> {
        let State {
            trials,
            sampler,
            space,
            revisions,
        } = st;
        let others: Vec<Trial>;
        // After a narrowing, trials outside the space stay in the study but not in the
        // samplers' models.
        let shrunk = adapt::shrunk(revisions);
        let outside = |t: &Trial| shrunk && !adapt::inside(space, &t.params);
        let view: &[Trial] = if trials.iter().any(|t| t.number == number || outside(t)) {
            others = trials
                .iter()
                .filter(|t| t.number != number && !outside(t))
                .cloned()
                .collect();
            &others
        } else {
            trials
        };
        // Priors come first, as the oldest trials: every number moves up by their count (the
        // trial's random streams too, consistently for a given set of priors).
        let with_priors: Vec<Trial>;
        let (view, number) = if !self.priors.is_empty() && sampler.uses_priors() {
            let shift = self.priors.len() as u64;
            with_priors = self
                .priors
                .iter()
                .enumerate()
                .map(|(i, t)| Trial {
                    number: i as u64,
                    ..t.clone()
                })
                .chain(view.iter().map(|t| Trial {
                    number: t.number + shift,
                    ..t.clone()
                }))
                .collect();
            (&with_priors[..], number + shift)
        } else {
            (view, number)
        };
        let ctx = SampleContext {
            space,
            directions: &self.def.directions,
            trials: view,
            number,
            seed: self.def.seed,
        };
        sampler.sample(&ctx)
    }

    /// Records an intermediate value of a running trial at `step` (NaN values are ignored).
    pub fn report(&self, number: u64, step: u64, value: f64) -> Result<()> {
        let mut st = self.lock();
        let i = st.position(number)?;
        let current = &st.trials[i];
        if current.state != TrialState::Running {
            return Err(not_running(number, current.state));
        }
        if value.is_nan() {
            return Ok(());
        }
        let mut t = current.clone();
        t.intermediate.insert(step, value);
        if !self.store.report(&t, step, value)? {
            return Err(self.lost_race(&mut st, number));
        }
        st.trials[i] = t;
        Ok(())
    }

    /// The error after a store refused to change trial `number` because another worker had
    /// finished it: its state as the store now has it.
    fn lost_race(&self, st: &mut State, number: u64) -> TuneError {
        if let Err(e) = self.refresh_locked(st) {
            return e;
        }
        match st.position(number) {
            Ok(i) if st.trials[i].state != TrialState::Running => {
                not_running(number, st.trials[i].state)
            }
            _ => TuneError::Invalid(format!(
                "trial {number} is no longer RUNNING (another worker finished it)"
            )),
        }
    }

    /// What a trial's reported steps should hold for this study's pruner.
    pub fn step_values(&self) -> StepValues {
        self.pruner.step_values()
    }

    /// True when the pruner says the trial should stop after its latest report. Multi-objective
    /// studies are never pruned (a pruner ranks one objective).
    pub fn should_prune(&self, number: u64) -> Result<bool> {
        if self.def.directions.len() != 1 {
            return Ok(false);
        }
        let st = self.lock();
        let i = st.position(number)?;
        let trial = &st.trials[i];
        let others: Vec<Trial> = st
            .trials
            .iter()
            .filter(|t| t.number != number)
            .cloned()
            .collect();
        Ok(self.pruner.should_prune(&PruneContext {
            study_name: &self.def.name,
            trial,
            trials: &others,
            direction: self.def.directions[0],
        }))
    }

    /// Finishes a running trial. A NaN objective value fails the trial (as in Optuna).
    pub fn tell(&self, number: u64, outcome: Outcome) -> Result<Trial> {
        let mut st = self.lock();
        self.refresh_locked(&mut st)?;
        let i = st.position(number)?;
        if st.trials[i].state != TrialState::Running {
            return Err(not_running(number, st.trials[i].state));
        }
        let mut t = st.trials[i].clone();
        let n = self.def.directions.len();
        let (values, constraints) = match &outcome {
            Outcome::Complete(v) => (Some(v.clone()), None),
            Outcome::Constrained(v, c) => (Some(v.clone()), Some(c.clone())),
            _ => (None, None),
        };
        if let Some(v) = &values
            && v.len() != n
        {
            return Err(TuneError::Invalid(format!(
                "trial {number}: {} value(s) given, the study has {n} objective(s)",
                v.len()
            )));
        }
        if let Some(c) = &constraints {
            check_constraints(Some(number), c)?;
        }
        t.state = match (&outcome, &values) {
            (Outcome::Pruned, _) => TrialState::Pruned,
            (Outcome::Fail, _) => TrialState::Fail,
            (_, Some(v)) => state_of_values(v),
            (_, None) => TrialState::Complete,
        };
        if t.state == TrialState::Complete {
            t.values = values;
            t.constraints = constraints;
        }
        t.finished_ms = Some(now_ms());
        // The store's compare-and-set decides between workers telling the same trial.
        if !self.store.finish(&t)? {
            return Err(self.lost_race(&mut st, number));
        }
        st.trials[i] = t.clone();
        if t.state == TrialState::Complete {
            self.adapt_locked(&mut st)?;
        }
        Ok(t)
    }

    /// Enqueues a trial with fixed params; the next `ask` hands it out before sampling.
    pub fn enqueue(&self, values: &[(String, ParamValue)]) -> Result<u64> {
        let params = self.space().internal(values)?;
        let t = self
            .store
            .create(Trial::new(0, TrialState::Waiting, params))?;
        let number = t.number;
        self.lock().merge(vec![t]);
        Ok(number)
    }

    /// Adds a finished trial from known results (warm start). The values are judged as `tell`
    /// judges them: a NaN makes the trial FAIL (kept, without values), not COMPLETE.
    pub fn add_completed(
        &self,
        values: &[(String, ParamValue)],
        objective: &[f64],
    ) -> Result<Trial> {
        if objective.len() != self.def.directions.len() {
            return Err(TuneError::Invalid(format!(
                "{} value(s) given, the study has {} objective(s)",
                objective.len(),
                self.def.directions.len()
            )));
        }
        let params = self.space().internal(values)?;
        let state = state_of_values(objective);
        let mut t = Trial::new(0, state, params);
        if state == TrialState::Complete {
            t.values = Some(objective.to_vec());
        }
        let now = now_ms();
        (t.started_ms, t.finished_ms) = (Some(now), Some(now));
        let t = self.store.create(t)?;
        self.lock().merge(vec![t.clone()]);
        Ok(t)
    }

    /// Every trial, in number order.
    pub fn trials(&self) -> Vec<Trial> {
        self.lock().trials.clone()
    }

    /// One trial.
    pub fn trial(&self, number: u64) -> Result<Trial> {
        let st = self.lock();
        let i = st.position(number)?;
        Ok(st.trials[i].clone())
    }

    /// The best COMPLETE feasible trial of a single-objective study (lowest number on ties).
    pub fn best_trial(&self) -> Result<Option<Trial>> {
        if self.def.directions.len() != 1 {
            return Err(TuneError::Invalid(
                "a multi-objective study has no single best trial; use best_trials (the Pareto front)"
                    .into(),
            ));
        }
        let d = self.def.directions[0];
        Ok(self
            .lock()
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.is_feasible())
            .filter_map(|t| t.value().map(|v| (d.loss(v), t)))
            .fold(None, |best: Option<(f64, &Trial)>, (l, t)| match best {
                Some((b, _)) if b <= l => best,
                _ => Some((l, t)),
            })
            .map(|(_, t)| t.clone()))
    }

    /// The Pareto-optimal COMPLETE feasible trials (for one objective: every trial tied best).
    pub fn best_trials(&self) -> Vec<Trial> {
        let st = self.lock();
        let done: Vec<&Trial> = st
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.is_feasible() && t.values.is_some())
            .collect();
        let losses: Vec<Vec<f64>> = done
            .iter()
            .map(|t| {
                t.values
                    .as_ref()
                    .map(|v| {
                        v.iter()
                            .zip(&self.def.directions)
                            .map(|(x, d)| d.loss(*x))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        pareto::pareto_front(&losses)
            .into_iter()
            .map(|i| done[i].clone())
            .collect()
    }

    /// Marks running trials FAIL (a worker stopping: Ctrl-C, a crash it caught).
    pub fn fail_running(&self, numbers: &[u64]) -> Result<()> {
        for &n in numbers {
            if self.trial(n)?.state == TrialState::Running {
                self.tell(n, Outcome::Fail)?;
            }
        }
        Ok(())
    }

    /// Counts of trials by state: (complete, pruned, fail, running, waiting).
    pub fn counts(&self) -> [usize; 5] {
        let mut c = [0; 5];
        for t in &self.lock().trials {
            c[match t.state {
                TrialState::Complete => 0,
                TrialState::Pruned => 1,
                TrialState::Fail => 2,
                TrialState::Running => 3,
                TrialState::Waiting => 4,
            }] += 1;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::SamplerSpec;

    fn def(sampler: SamplerSpec) -> StudyDef {
        StudyDef {
            name: "s".into(),
            space: SearchSpace::from_toml_str(
                "[x]\ntype = \"float\"\nlow = -1\nhigh = 1\n[k]\ntype = \"categorical\"\nchoices = [\"a\", \"b\"]\n",
            )
            .unwrap(),
            directions: vec![Direction::Minimize],
            objectives: vec![],
            sampler,
            pruner: PrunerSpec::None,
            seed: 7,
            adapt: None,
        }
    }

    /// A store whose trials in `hidden` are not visible yet: their numbers were drawn, their
    /// records not yet committed (another worker between its counter and its insert).
    struct LateStore {
        inner: MemoryTrialStore,
        hidden: Mutex<Vec<u64>>,
    }

    impl TrialStore for LateStore {
        fn load(&self, since: u64, also: &[u64]) -> Result<Vec<Trial>> {
            let hidden = self.hidden.lock().unwrap().clone();
            Ok(self
                .inner
                .load(since, also)?
                .into_iter()
                .filter(|t| !hidden.contains(&t.number))
                .collect())
        }
        fn create(&self, trial: Trial) -> Result<Trial> {
            self.inner.create(trial)
        }
        fn claim_waiting(&self) -> Result<Option<Trial>> {
            self.inner.claim_waiting()
        }
        fn save(&self, trial: &Trial) -> Result<()> {
            self.inner.save(trial)
        }
        fn finish(&self, trial: &Trial) -> Result<bool> {
            self.inner.finish(trial)
        }
        fn report(&self, trial: &Trial, step: u64, value: f64) -> Result<bool> {
            self.inner.report(trial, step, value)
        }
        fn revisions(&self) -> Result<Vec<SpaceRevision>> {
            self.inner.revisions()
        }
        fn add_revision(&self, revision: &SpaceRevision) -> Result<bool> {
            self.inner.add_revision(revision)
        }
    }

    /// f(x, y) = (x - 3)^2 + (y + 2)^2, with both optima outside the initial [0, 1] ranges.
    fn outside_optimum(
        sampler: SamplerSpec,
        adapt: Option<AdaptSpec>,
        store: Arc<MemoryTrialStore>,
        n: usize,
    ) -> (f64, Study) {
        let space = SearchSpace::from_toml_str(
            "[x]\ntype = \"float\"\nlow = 0\nhigh = 1\nhard_high = 10\n[y]\ntype = \"float\"\nlow = 0\nhigh = 1\n",
        )
        .unwrap();
        let study = Study::open(
            StudyDef {
                name: "adapt".into(),
                space,
                directions: vec![Direction::Minimize],
                objectives: vec![],
                sampler,
                pruner: PrunerSpec::None,
                seed: 3,
                adapt,
            },
            store,
        )
        .unwrap();
        for _ in 0..n {
            let t = study.ask().unwrap();
            let (x, y) = (t.params["x"], t.params["y"]);
            study
                .tell(
                    t.number,
                    Outcome::Complete(vec![(x - 3.0).powi(2) + (y + 2.0).powi(2)]),
                )
                .unwrap();
        }
        let best = study
            .best_trial()
            .unwrap()
            .and_then(|t| t.value())
            .unwrap_or(f64::INFINITY);
        (best, study)
    }

    #[test]
    fn an_adaptive_space_finds_an_optimum_outside_the_initial_ranges() {
        for sampler in [
            SamplerSpec::parse("tpe").unwrap(),
            SamplerSpec::parse("gp").unwrap(),
        ] {
            let name = sampler.name();
            let (fixed, _) = outside_optimum(sampler.clone(), None, Arc::default(), 80);
            // Without adapting, the best possible is (1 - 3)^2 + (0 + 2)^2 = 8.
            assert!(fixed >= 8.0, "{name}: {fixed}");
            let store: Arc<MemoryTrialStore> = Arc::default();
            let (adapted, study) = outside_optimum(
                sampler.clone(),
                Some(AdaptSpec::default()),
                store.clone(),
                80,
            );
            assert!(adapted < 0.5, "{name}: best {adapted} with adapt = true");
            let revs = study.revisions();
            assert!(revs.len() >= 3, "{name}: {revs:?}");
            // Earlier trials stay valid: every trial lies in the final space.
            let space = study.space();
            assert!(
                study
                    .trials()
                    .iter()
                    .all(|t| adapt::inside(&space, &t.params))
            );
            // x never passes its hard limit; y (no limit) went below 0.
            let (xl, xh) = space.get("x").unwrap().distribution.bounds();
            let (yl, _) = space.get("y").unwrap().distribution.bounds();
            assert!(
                xl == 0.0 && xh > 3.0 && xh <= 10.0 && yl < -2.0,
                "{name}: {space:?}"
            );
            // A resumed study (or a second worker on the same store) sees the same space.
            let again = Study::open(study.def().clone(), store).unwrap();
            assert_eq!(again.revisions(), revs);
            assert_eq!(again.space(), space);
        }
    }

    #[test]
    fn priors_steer_the_first_suggestions_without_joining_the_study() {
        let space =
            SearchSpace::from_toml_str("[x]\ntype = \"float\"\nlow = 0\nhigh = 1\n").unwrap();
        let mk = |sampler: &str| StudyDef {
            name: "warm".into(),
            space: space.clone(),
            directions: vec![Direction::Minimize],
            objectives: vec![],
            sampler: SamplerSpec::parse(sampler).unwrap(),
            pruner: PrunerSpec::None,
            seed: 11,
            adapt: None,
        };
        // 30 finished trials of an earlier study of (x - 0.8)^2.
        let priors: Vec<Trial> = (0..30)
            .map(|i| {
                let x = i as f64 / 29.0;
                let mut t = Trial::new(i, TrialState::Complete, [("x".to_string(), x)].into());
                t.values = Some(vec![(x - 0.8f64).powi(2)]);
                t
            })
            .collect();
        for sampler in ["tpe", "gp"] {
            let miss = |study: &Study| -> f64 {
                (0..8)
                    .map(|_| {
                        let t = study.ask().unwrap();
                        let x = t.params["x"];
                        study
                            .tell(t.number, Outcome::Complete(vec![(x - 0.8).powi(2)]))
                            .unwrap();
                        (x - 0.8).abs()
                    })
                    .sum::<f64>()
                    / 8.0
            };
            let cold = Study::in_memory(mk(sampler)).unwrap();
            let warm = Study::in_memory(mk(sampler))
                .unwrap()
                .with_priors(priors.clone())
                .unwrap();
            let (c, w) = (miss(&cold), miss(&warm));
            assert!(w < 0.1 && w < c / 2.0, "{sampler}: warm {w}, cold {c}");
            // Priors are not trials of the study.
            assert_eq!(warm.trials().len(), 8);
            assert_eq!(warm.counts()[0], 8);
        }
        // A prior without values is refused.
        let bad = Trial::new(0, TrialState::Complete, Params::new());
        assert!(
            Study::in_memory(mk("tpe"))
                .unwrap()
                .with_priors(vec![bad])
                .is_err()
        );
    }

    #[test]
    fn parallel_workers_share_one_revision_history() {
        let store: Arc<MemoryTrialStore> = Arc::default();
        let tpe = SamplerSpec::parse("tpe").unwrap();
        let adapt = Some(AdaptSpec::default());
        let (_, a) = outside_optimum(tpe.clone(), adapt.clone(), store.clone(), 0);
        let (_, b) = outside_optimum(tpe, adapt, store.clone(), 0);
        for i in 0..60 {
            let w = if i % 2 == 0 { &a } else { &b };
            let t = w.ask().unwrap();
            let (x, y) = (t.params["x"], t.params["y"]);
            w.tell(
                t.number,
                Outcome::Complete(vec![(x - 3.0).powi(2) + (y + 2.0).powi(2)]),
            )
            .unwrap();
        }
        a.refresh().unwrap();
        b.refresh().unwrap();
        assert!(!a.revisions().is_empty());
        assert_eq!(a.revisions(), b.revisions());
        let numbers: Vec<u32> = a.revisions().iter().map(|r| r.number).collect();
        assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>());
    }

    #[test]
    fn a_trial_committed_after_a_later_one_is_still_seen() {
        let store = Arc::new(LateStore {
            inner: MemoryTrialStore::new(),
            hidden: Mutex::new(Vec::new()),
        });
        // Another worker drew number 0 but has not committed it; this worker's trial gets 1.
        store
            .inner
            .create(Trial::new(0, TrialState::Running, Params::new()))
            .unwrap();
        store.hidden.lock().unwrap().push(0);
        let study = Study::open(def(SamplerSpec::Random), store.clone()).unwrap();
        let mine = study.ask().unwrap();
        assert_eq!(mine.number, 1);
        assert_eq!(study.counts()[3], 1, "only its own trial is visible yet");
        // The other worker commits: the next refresh must see trial 0, though it is below
        // the last number this worker knows.
        store.hidden.lock().unwrap().clear();
        study.refresh().unwrap();
        assert_eq!(study.counts()[3], 2, "{:?}", study.trials());
    }

    #[test]
    fn ask_tell_enqueue_and_best() {
        let study = Study::in_memory(def(SamplerSpec::Random)).unwrap();
        let q = study
            .enqueue(&[
                ("x".into(), ParamValue::Float(0.25)),
                ("k".into(), ParamValue::Str("b".into())),
            ])
            .unwrap();
        let first = study.ask().unwrap();
        assert_eq!(first.number, q);
        assert_eq!(first.params["x"], 0.25);
        study
            .tell(first.number, Outcome::Complete(vec![0.0625]))
            .unwrap();
        for _ in 0..5 {
            let t = study.ask().unwrap();
            let x = t.params["x"];
            study
                .tell(t.number, Outcome::Complete(vec![x * x]))
                .unwrap();
        }
        let e = study.tell(0, Outcome::Fail).unwrap_err().to_string();
        assert!(e.contains("trial 0 is COMPLETE"), "{e}");
        let nan = study.ask().unwrap();
        assert_eq!(
            study
                .tell(nan.number, Outcome::Complete(vec![f64::NAN]))
                .unwrap()
                .state,
            TrialState::Fail
        );
        let best = study.best_trial().unwrap().unwrap();
        let min = study
            .trials()
            .iter()
            .filter_map(|t| t.value())
            .fold(f64::INFINITY, f64::min);
        assert_eq!(best.value(), Some(min));
        let warm = study
            .add_completed(
                &[
                    ("x".into(), ParamValue::Float(0.0)),
                    ("k".into(), ParamValue::Str("a".into())),
                ],
                &[0.0],
            )
            .unwrap();
        assert_eq!(study.best_trial().unwrap().unwrap().number, warm.number);
        // A NaN warm start is judged as tell judges it: FAIL, never the best.
        let nan = study
            .add_completed(
                &[
                    ("x".into(), ParamValue::Float(0.5)),
                    ("k".into(), ParamValue::Str("a".into())),
                ],
                &[f64::NAN],
            )
            .unwrap();
        assert_eq!((nan.state, nan.values), (TrialState::Fail, None));
        assert_eq!(study.best_trial().unwrap().unwrap().number, warm.number);
    }

    #[test]
    fn racing_tells_of_one_trial_have_exactly_one_winner() {
        let store: Arc<dyn TrialStore> = Arc::new(MemoryTrialStore::new());
        let first = Study::open(def(SamplerSpec::Random), store.clone()).unwrap();
        let number = first.ask().unwrap().number;
        // Every worker opened the study while the trial was RUNNING.
        let workers: Vec<Study> = (0..8)
            .map(|_| Study::open(def(SamplerSpec::Random), store.clone()).unwrap())
            .collect();
        let results: Vec<Result<Trial>> = std::thread::scope(|s| {
            let handles: Vec<_> = workers
                .iter()
                .enumerate()
                .map(|(i, w)| s.spawn(move || w.tell(number, Outcome::Complete(vec![i as f64]))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<&Trial> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1);
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(e.to_string().contains("is COMPLETE"), "{e}");
        }
        let stored = store.load(0, &[]).unwrap();
        assert_eq!(stored[0].values, won[0].values);
        // A worker that still believes the trial RUNNING cannot report to it or fail it.
        let late = Study::open(def(SamplerSpec::Random), store.clone()).unwrap();
        let stale = Study::open(def(SamplerSpec::Random), store.clone()).unwrap();
        let t = late.ask().unwrap().number;
        let stale_view = Study::open(def(SamplerSpec::Random), store.clone()).unwrap();
        late.tell(t, Outcome::Pruned).unwrap();
        let e = stale_view.report(t, 0, 1.0).unwrap_err().to_string();
        assert!(e.contains(&format!("trial {t} is PRUNED")), "{e}");
        let e = stale.tell(t, Outcome::Fail).unwrap_err().to_string();
        assert!(e.contains("PRUNED"), "{e}");
        assert_eq!(store.load(t, &[]).unwrap()[0].state, TrialState::Pruned);
    }

    #[test]
    fn random_points_depend_only_on_seed_and_number() {
        let a = Study::in_memory(def(SamplerSpec::Random)).unwrap();
        let b = Study::in_memory(def(SamplerSpec::Random)).unwrap();
        let pa: Vec<_> = (0..20).map(|_| a.ask().unwrap().params).collect();
        let pb: Vec<_> = (0..20).map(|_| b.ask().unwrap().params).collect();
        assert_eq!(pa, pb);
        let mut d = def(SamplerSpec::Random);
        d.seed = 8;
        let c = Study::in_memory(d).unwrap();
        assert_ne!(c.ask().unwrap().params, pa[0]);
    }

    #[test]
    fn resume_continues_the_same_sequence() {
        let store: Arc<dyn TrialStore> = Arc::new(MemoryTrialStore::new());
        let whole = Study::in_memory(def(SamplerSpec::Random)).unwrap();
        let all: Vec<_> = (0..10).map(|_| whole.ask().unwrap().params).collect();
        {
            let first = Study::open(def(SamplerSpec::Random), store.clone()).unwrap();
            for _ in 0..4 {
                first.ask().unwrap();
            }
        }
        let resumed = Study::open(def(SamplerSpec::Random), store).unwrap();
        let rest: Vec<_> = (0..6).map(|_| resumed.ask().unwrap().params).collect();
        assert_eq!(rest, all[4..]);
    }
}
