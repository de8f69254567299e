//! Gated promotion, rollback and version comparison.
//!
//! A promotion to staging or production runs two checks and is blocked unless both pass:
//! - the version's `[gates]` (from the config it was trained with), re-evaluated on the
//!   metrics its run stored;
//! - when the model has a production version, the significance tests of `hone compare` on the
//!   holdout rows the two versions share: DeLong and McNemar (classifiers), Diebold–Mariano
//!   with the HLN correction (regressors), and the paired bootstrap of the per-row loss. The
//!   candidate passes when the task's main test (DeLong, McNemar for multiclass, DM) finds it
//!   better at the chosen level and the bootstrap does not find production better.
//!
//! `force` with a reason overrides a block; the override, the checks and the reason are
//! written with the stage change to the audit log. The change itself is the store's
//! compare-and-set on the production version read before the checks: a concurrent promotion
//! or rollback makes it fail instead of interleaving.

use std::collections::BTreeMap;

use hone_track::artifacts::BlobStore;
use hone_track::{
    Backend, ModelVersion, NewEvent, PRODUCTION_ALIAS, Stage, TrackError, Transition, keys,
};
use serde::Serialize;

use super::lineage::{self, MetricChange, ParamChange};
use crate::TrainError;
use crate::compare::{CompareOn, Comparison, compare_predictions, run_predictions, shared_rows};
use crate::gates::{GateResult, GatesConfig};

/// Fewest shared holdout rows the significance tests are run on.
pub const MIN_SHARED_ROWS: usize = 20;

/// What to promote ([`promote`]).
#[derive(Debug, Clone)]
pub struct PromoteRequest<'a> {
    /// The registered model.
    pub name: &'a str,
    /// The version: a number, a semver, `@alias` or a full reference.
    pub version: &'a str,
    /// `Staging` or `Production`.
    pub stage: Stage,
    /// Promote even when a check fails (needs `reason`).
    pub force: bool,
    /// Why (required with `force`; recorded either way).
    pub reason: &'a str,
    /// MLflow's `archive_existing_versions`: archive the versions the promotion displaces
    /// instead of deprecating (production) or keeping (staging) them.
    pub archive_existing: bool,
    /// Significance level of the tests.
    pub alpha: f64,
    /// Seed of the paired bootstrap.
    pub seed: u64,
    /// Who promotes (the audit log's user); `None`: the process's user. `hone server` passes
    /// the signed-in user.
    pub user: Option<&'a str>,
}

/// The significance check against the production version.
#[derive(Debug, Clone, Serialize)]
pub struct SignificanceCheck {
    /// The production version compared with.
    pub against: u32,
    /// Its semver.
    pub against_semver: Option<String>,
    /// Holdout rows the two versions share.
    pub shared_rows: usize,
    /// The tests (A = production, B = the candidate); `None` when they could not run.
    pub comparison: Option<Comparison>,
    /// Whether the candidate is significantly better.
    pub passed: bool,
    /// The verdict in words.
    pub verdict: String,
}

/// Both checks of a promotion.
#[derive(Debug, Clone, Serialize)]
pub struct PromotionCheck {
    /// The version's gates, re-evaluated on its stored metrics.
    pub gates: Vec<GateResult>,
    /// Whether every hard gate passed.
    pub gates_passed: bool,
    /// Why there are no gates to check, when there are none.
    pub gates_note: Option<String>,
    /// The test against production (`None`: the model has no production version).
    pub significance: Option<SignificanceCheck>,
    /// Both checks passed.
    pub passed: bool,
}

/// A promotion's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Promotion {
    /// The version (after the move when applied).
    #[serde(skip)]
    pub version: ModelVersion,
    /// Its stage before.
    pub from: &'static str,
    /// The stage asked for.
    pub to: &'static str,
    /// The checks.
    pub check: PromotionCheck,
    /// Whether the stage changed (false: blocked).
    pub applied: bool,
    /// Whether a failed check was overridden with `force`.
    pub forced: bool,
    /// The production version this one replaced.
    pub replaced: Option<u32>,
}

/// The values a version's gates can name, as its run stored them: the run's metrics, and for
/// names it has no metric of (runs recorded before every gate value was logged), the values
/// recorded with its gate results at training time.
fn recorded_gate_values(run: &hone_track::Run) -> BTreeMap<String, f64> {
    let mut vals = lineage::run_metrics(run);
    let recorded = run
        .tags
        .iter()
        .find(|(k, _)| k == keys::GATES)
        .and_then(|(_, v)| serde_json::from_str::<Vec<serde_json::Value>>(v).ok())
        .unwrap_or_default();
    for g in recorded {
        let (Some(rule), Some(value)) = (
            g.get("rule").and_then(|r| r.as_str()),
            g.get("value").and_then(serde_json::Value::as_f64),
        ) else {
            continue;
        };
        if let Some(name) = rule.split_whitespace().next() {
            vals.entry(name.to_string()).or_insert(value);
        }
    }
    vals
}

/// The `[gates]` of the config a run trained with (its `config.toml` artifact), if any.
fn run_gates(
    store: &dyn Backend,
    blobs: &BlobStore,
    run_id: &str,
) -> Result<Option<GatesConfig>, TrainError> {
    let arts = store.list_artifacts(run_id)?;
    let rec = arts
        .iter()
        .find(|a| a.path == "config.toml")
        .ok_or_else(|| TrainError::Invalid(format!("run {run_id} has no config.toml artifact")))?;
    let text = String::from_utf8(blobs.get(&rec.sha256, run_id, &rec.path)?)
        .map_err(|_| TrainError::Invalid(format!("config.toml of run {run_id} is not UTF-8")))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| TrainError::Invalid(format!("config.toml of run {run_id}: {e}")))?;
    match table.get("gates") {
        None => Ok(None),
        Some(g) => g
            .clone()
            .try_into::<GatesConfig>()
            .map(Some)
            .map_err(|e| TrainError::Invalid(format!("[gates] of run {run_id}: {e}"))),
    }
}

/// Re-evaluates a version's gates on its stored metrics.
pub fn check_gates(
    store: &dyn Backend,
    blobs: &BlobStore,
    v: &ModelVersion,
) -> Result<(Vec<GateResult>, bool, Option<String>), TrainError> {
    let Some(gates) = run_gates(store, blobs, super::run_of_version(v)?)? else {
        return Ok((
            Vec::new(),
            true,
            Some("its config has no [gates]: nothing to check".into()),
        ));
    };
    let run = store.get_run(&v.source_run_id)?;
    let results = gates.evaluate_recorded(&recorded_gate_values(&run))?;
    let passed = crate::gates::failed_hard(&results).is_empty();
    let note = results
        .is_empty()
        .then(|| "its [gates] has no rules: nothing to check".to_string());
    Ok((results, passed, note))
}

/// Whether a test finds B (the candidate) better than A, by its effect's sign: `None` for a
/// test that gives no direction.
fn favours_b(t: &hone_validate::compare::TestResult) -> Option<bool> {
    let detail = |k: &str| t.details.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    match t.test.as_str() {
        // Effects are mean loss differences A − B: positive means B's loss is lower.
        "diebold_mariano_hln" | "paired_bootstrap" => Some(t.effect > 0.0),
        "delong" => Some(detail("auc_b")? > detail("auc_a")?),
        // b − c: rows only A got right minus rows only B got right.
        "mcnemar" => Some(t.effect < 0.0),
        _ => None,
    }
}

/// The verdict of a comparison of production (A) with a candidate (B) at level `alpha`.
pub fn verdict(c: &Comparison, alpha: f64) -> (bool, String) {
    let main = &c.tests[0];
    let boot = c.tests.last().expect("the bootstrap always runs");
    let main_better = main.result.p_value < alpha && favours_b(&main.result) == Some(true);
    let (lo, hi) = (
        boot.result
            .details
            .iter()
            .find(|(k, _)| k == "ci_low")
            .map_or(f64::NAN, |d| d.1),
        boot.result
            .details
            .iter()
            .find(|(k, _)| k == "ci_high")
            .map_or(f64::NAN, |d| d.1),
    );
    // The interval of loss(A) − loss(B) entirely below 0: production's loss is lower.
    let boot_against = hi < 0.0;
    let passed = main_better && !boot_against;
    let words = if c.identical_predictions {
        "the candidate makes exactly the production version's predictions: not better".to_string()
    } else if passed {
        format!(
            "the candidate is significantly better ({} p = {:.4} < {alpha}; bootstrap 95% CI of \
             the loss difference [{lo:.4e}, {hi:.4e}])",
            main.result.test, main.result.p_value
        )
    } else if boot_against {
        format!(
            "production is better: the bootstrap 95% CI of the loss difference [{lo:.4e}, \
             {hi:.4e}] lies below 0"
        )
    } else if main.result.p_value < alpha {
        format!(
            "production is significantly better ({} p = {:.4})",
            main.result.test, main.result.p_value
        )
    } else {
        format!(
            "not significantly better than production ({} p = {:.4} ≥ {alpha})",
            main.result.test, main.result.p_value
        )
    };
    (passed, words)
}

/// Compares two versions' holdout predictions on the rows they share (A = `a`, B = `b`).
/// `Ok(None)` with the reason when the tests cannot run (no holdout predictions, too few
/// shared rows).
pub fn compare_versions_on_holdout(
    store: &dyn Backend,
    blobs: &BlobStore,
    a: &ModelVersion,
    b: &ModelVersion,
    seed: u64,
) -> Result<(usize, Result<Comparison, String>), TrainError> {
    let read = |v: &ModelVersion| match run_predictions(
        store,
        blobs,
        &v.source_run_id,
        CompareOn::Holdout,
    ) {
        Ok(p) => Ok(Ok(p)),
        Err(TrainError::Config(_)) => Ok(Err(format!(
            "version {} has no holdout predictions (trained without a holdout)",
            v.version
        ))),
        Err(e) => Err(e),
    };
    let (pa, pb) = match (read(a)?, read(b)?) {
        (Ok(pa), Ok(pb)) => (pa, pb),
        (Err(m), _) | (_, Err(m)) => return Ok((0, Err(m))),
    };
    let (sa, sb) = match shared_rows(&pa, &pb) {
        Ok(s) => s,
        Err(TrainError::Config(m)) => return Ok((0, Err(m))),
        Err(e) => return Err(e),
    };
    let n = sa.y_true.len();
    if n < MIN_SHARED_ROWS {
        return Ok((
            n,
            Err(format!(
                "versions {} and {} share {n} holdout rows (fewer than {MIN_SHARED_ROWS}): \
                 the tests cannot run",
                a.version, b.version
            )),
        ));
    }
    Ok((n, Ok(compare_predictions(&sa, &sb, seed)?)))
}

/// Runs both checks of a promotion of `v` (without changing anything).
pub fn check_promotion(
    store: &dyn Backend,
    blobs: &BlobStore,
    v: &ModelVersion,
    production: Option<&ModelVersion>,
    alpha: f64,
    seed: u64,
) -> Result<PromotionCheck, TrainError> {
    let (gates, gates_passed, gates_note) = check_gates(store, blobs, v)?;
    let significance = match production.filter(|p| p.version != v.version) {
        None => None,
        Some(p) => {
            let (rows, outcome) = compare_versions_on_holdout(store, blobs, p, v, seed)?;
            Some(match outcome {
                Ok(c) => {
                    let (passed, verdict) = verdict(&c, alpha);
                    SignificanceCheck {
                        against: p.version,
                        against_semver: p.semver.clone(),
                        shared_rows: rows,
                        comparison: Some(c),
                        passed,
                        verdict,
                    }
                }
                Err(why) => SignificanceCheck {
                    against: p.version,
                    against_semver: p.semver.clone(),
                    shared_rows: rows,
                    comparison: None,
                    passed: false,
                    verdict: why,
                },
            })
        }
    };
    let passed = gates_passed && significance.as_ref().is_none_or(|s| s.passed);
    Ok(PromotionCheck {
        gates,
        gates_passed,
        gates_note,
        significance,
        passed,
    })
}

/// The model's production version, if any.
pub fn production_of(store: &dyn Backend, name: &str) -> Result<Option<ModelVersion>, TrackError> {
    store.get_registered_model(name)?;
    match store.get_model_version_by_alias(name, PRODUCTION_ALIAS) {
        Ok(v) => Ok(Some(v)),
        Err(TrackError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Promotes a version to staging or production after its checks ([`check_promotion`]). A
/// failed check blocks it (`applied: false`, and a `promotion_blocked` event in the audit log)
/// unless `force` is set with a reason. A forbidden move (the matrix), an unknown version or
/// a production that moved during the checks is an error and changes nothing.
pub fn promote(
    store: &dyn Backend,
    blobs: &BlobStore,
    req: &PromoteRequest<'_>,
) -> Result<Promotion, TrainError> {
    if !matches!(req.stage, Stage::Staging | Stage::Production) {
        return Err(TrainError::Config(format!(
            "--stage must be staging or production, not {}",
            req.stage.name()
        )));
    }
    if req.force && req.reason.trim().is_empty() {
        return Err(TrainError::Config(
            "--force needs --reason \"...\": an override is recorded with why it was made".into(),
        ));
    }
    if !(req.alpha > 0.0 && req.alpha < 1.0) {
        return Err(TrainError::Config(format!(
            "--alpha must be in (0, 1), got {}",
            req.alpha
        )));
    }
    let v = super::version_of_model(store, req.name, req.version)?;
    let what = format!("version {} of registered model {}", v.version, v.name);
    // The matrix first: a forbidden move is refused before any check runs.
    v.current_stage.check_move(req.stage, &what)?;
    let production = production_of(store, req.name)?;
    let check = check_promotion(store, blobs, &v, production.as_ref(), req.alpha, req.seed)?;
    let user = req
        .user
        .map(str::to_string)
        .unwrap_or_else(super::current_user);
    let mut details = serde_json::to_value(&check)
        .map_err(|e| TrainError::Invalid(format!("promotion check: {e}")))?;
    if !check.passed && !req.force {
        store.append_event(&NewEvent {
            name: req.name,
            version: Some(v.version),
            action: "promotion_blocked",
            user: &user,
            reason: req.stage.name(),
            details: &details.to_string(),
        })?;
        return Ok(Promotion {
            from: v.current_stage.name(),
            to: req.stage.name(),
            version: v,
            check,
            applied: false,
            forced: false,
            replaced: None,
        });
    }
    let forced = !check.passed;
    details["forced"] = serde_json::json!(forced);
    let reason = if req.reason.is_empty() {
        "checks passed".to_string()
    } else {
        req.reason.to_string()
    };
    let from = v.current_stage;
    let moved = store.transition_stage(&Transition {
        name: req.name,
        version: v.version,
        to: req.stage,
        expected_current_production: production.as_ref().map(|p| p.version),
        archive_existing: req.archive_existing,
        user: &user,
        reason: &reason,
        details: &details.to_string(),
    })?;
    Ok(Promotion {
        from: from.name(),
        to: req.stage.name(),
        version: moved,
        check,
        applied: true,
        forced,
        replaced: production
            .filter(|p| req.stage == Stage::Production && p.version != v.version)
            .map(|p| p.version),
    })
}

/// A rollback's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Rollback {
    /// The version that was in production.
    pub from: u32,
    /// The version now in production.
    pub to: u32,
    /// Its semver.
    pub to_semver: Option<String>,
}

/// The versions that held production, oldest first, as a stack: a promotion pushes, a
/// rollback pops back to the version it restored. The top is the current production version
/// (when there is one); the one below it is what a rollback restores.
pub fn production_stack(store: &dyn Backend, name: &str) -> Result<Vec<u32>, TrackError> {
    let mut stack: Vec<u32> = Vec::new();
    for e in store.audit_log(name)? {
        match (e.action.as_str(), e.version) {
            ("transition_stage", Some(v))
                if e.to.as_deref() == Some(Stage::Production.as_str()) =>
            {
                let rollback = serde_json::from_str::<serde_json::Value>(&e.details)
                    .ok()
                    .and_then(|d| d.get("rollback").and_then(serde_json::Value::as_bool))
                    .unwrap_or(false);
                if rollback && let Some(at) = stack.iter().rposition(|x| *x == v) {
                    stack.truncate(at + 1);
                } else {
                    stack.retain(|x| *x != v);
                    stack.push(v);
                }
            }
            ("delete_model", _) => stack.clear(),
            _ => {}
        }
    }
    Ok(stack)
}

/// Moves production back: to `to` when given, else to the version that held production before
/// the current one (from the audit log, [`production_stack`]). The current production version
/// becomes deprecated. The move is a compare-and-set on the current production version, so two
/// racing rollbacks (or a rollback racing a promotion) never both apply; it is recorded with
/// `reason` and `rollback: true`. No checks run: a rollback restores a version that was
/// already trusted with production.
pub fn rollback(
    store: &dyn Backend,
    name: &str,
    to: Option<&str>,
    reason: &str,
) -> Result<Rollback, TrainError> {
    rollback_as(store, name, to, reason, &super::current_user())
}

/// [`rollback`] on behalf of `user` (the audit log's user).
pub fn rollback_as(
    store: &dyn Backend,
    name: &str,
    to: Option<&str>,
    reason: &str,
    user: &str,
) -> Result<Rollback, TrainError> {
    let current = production_of(store, name)?.ok_or_else(|| {
        TrainError::Config(format!(
            "registered model {name} has no production version: nothing to roll back"
        ))
    })?;
    let target = match to {
        Some(r) => super::version_of_model(store, name, r)?,
        None => {
            let stack = production_stack(store, name)?;
            let below = stack
                .iter()
                .rev()
                .skip_while(|v| **v != current.version)
                .nth(1)
                .copied()
                .ok_or_else(|| {
                    TrainError::Config(format!(
                        "version {} is the first production version of {name}: there is no \
                         earlier one to roll back to (name one with --to)",
                        current.version
                    ))
                })?;
            store.get_model_version(name, below).map_err(|e| match e {
                TrackError::NotFound(_) => TrainError::Config(format!(
                    "the previous production version of {name}, {below}, was deleted: name \
                     another with --to"
                )),
                e => e.into(),
            })?
        }
    };
    if target.version == current.version {
        return Err(TrainError::Config(format!(
            "version {} of {name} is already in production",
            target.version
        )));
    }
    let why = if reason.is_empty() {
        format!("rollback from version {}", current.version)
    } else {
        format!("rollback from version {}: {reason}", current.version)
    };
    let details = serde_json::json!({"rollback": true, "from": current.version});
    let moved = store.transition_stage(&Transition {
        name,
        version: target.version,
        to: Stage::Production,
        expected_current_production: Some(current.version),
        archive_existing: false,
        user,
        reason: &why,
        details: &details.to_string(),
    })?;
    Ok(Rollback {
        from: current.version,
        to: moved.version,
        to_semver: moved.semver,
    })
}

/// Two versions side by side ([`compare`]).
#[derive(Debug, Clone, Serialize)]
pub struct VersionComparison {
    /// The first version (A).
    pub a: u32,
    /// The second version (B).
    pub b: u32,
    /// Settings that differ (before = A, after = B).
    pub params: Vec<ParamChange>,
    /// Summary metrics of both runs.
    pub metrics: Vec<MetricChange>,
    /// Holdout rows the two share.
    pub shared_rows: usize,
    /// The tests on those rows, or why they could not run.
    pub comparison: Option<Comparison>,
    /// Why the tests did not run, when they did not.
    pub note: Option<String>,
}

/// Compares two versions of a model: settings diff, metric table, and the significance tests
/// on their shared holdout rows.
pub fn compare(
    store: &dyn Backend,
    blobs: &BlobStore,
    name: &str,
    a: &str,
    b: &str,
    seed: u64,
) -> Result<(ModelVersion, ModelVersion, VersionComparison), TrainError> {
    let va = super::version_of_model(store, name, a)?;
    let vb = super::version_of_model(store, name, b)?;
    let (ra, rb) = (
        store.get_run(&va.source_run_id)?,
        store.get_run(&vb.source_run_id)?,
    );
    let params = lineage::param_changes(
        &lineage::run_settings(store, &ra)?,
        &lineage::run_settings(store, &rb)?,
    );
    let metrics = lineage::metric_changes(&lineage::run_metrics(&ra), &lineage::run_metrics(&rb));
    let (rows, outcome) = compare_versions_on_holdout(store, blobs, &va, &vb, seed)?;
    let (comparison, note) = match outcome {
        Ok(c) => (Some(c), None),
        Err(m) => (None, Some(m)),
    };
    let cmp = VersionComparison {
        a: va.version,
        b: vb.version,
        params,
        metrics,
        shared_rows: rows,
        comparison,
        note,
    };
    Ok((va, vb, cmp))
}
