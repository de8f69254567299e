//! A model's changelog, notes and performance over time, all read from its audit log: the
//! store's own entries (registrations, stage and alias changes, deletions) and the events hone
//! appends (`register` with its diffs, `note`, `evaluation`, `promotion_blocked`).

use std::collections::BTreeMap;

use hone_track::{AuditEntry, Backend, ModelVersion, NewEvent, Stage, TrackError};
use serde::Serialize;
use serde_json::Value;

use crate::evaluate::EvaluateReport;
use crate::gates::GateResult;

/// Longest note kept (the audit log's reason column holds it).
pub const MAX_NOTE: usize = 5000;

/// Adds a user's note to the model's changelog, about one version (`version`: a number, semver,
/// `@alias` or reference) or the whole model.
pub fn add_note(
    store: &dyn Backend,
    name: &str,
    version: Option<&str>,
    text: &str,
) -> Result<AuditEntry, TrackError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(TrackError::Invalid("a note needs some text".into()));
    }
    if text.chars().count() > MAX_NOTE {
        return Err(TrackError::Invalid(format!(
            "a note holds at most {MAX_NOTE} characters"
        )));
    }
    let version = match version {
        Some(r) => Some(super::version_of_model(store, name, r)?.version),
        None => {
            store.get_registered_model(name)?;
            None
        }
    };
    store.append_event(&NewEvent {
        name,
        version,
        action: "note",
        user: &super::current_user(),
        reason: text,
        details: "",
    })
}

/// One evaluation of a version on labelled data, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The audit entry's id.
    pub id: i64,
    /// When, ms since the epoch.
    pub time: i64,
    /// Who ran it.
    pub user: String,
    /// The version evaluated.
    pub version: u32,
    /// The data file.
    pub data: String,
    /// Its fingerprint.
    pub fingerprint: String,
    /// Rows scored.
    pub rows: usize,
    /// First and last timestamps of the rows.
    pub period: (String, String),
    /// Metrics by name.
    pub metrics: BTreeMap<String, f64>,
    /// Trading metrics by name (`sharpe`, `max_drawdown`, ...), when the model trades.
    pub trading: BTreeMap<String, f64>,
    /// Share of features that drifted against the training data.
    pub drift_share: f64,
    /// Whether that share reaches one half (the dataset drifted).
    pub dataset_drift: bool,
    /// The features that drifted.
    pub drifted_features: Vec<String>,
    /// The gates that applied.
    pub gates: Vec<GateResult>,
    /// Whether every hard gate passed.
    pub gates_passed: bool,
}

/// Records `hone evaluate`'s result on a registered version as an evaluation event.
pub fn record_evaluation(
    store: &dyn Backend,
    v: &ModelVersion,
    report: &EvaluateReport,
) -> Result<AuditEntry, TrackError> {
    let (_, dataset_drift) = hone_validate::drift::dataset_drift(&report.drift, 0.5);
    let trading: BTreeMap<String, f64> = report
        .trading
        .as_ref()
        .and_then(|t| serde_json::to_value(t).ok())
        .and_then(|t| t.as_object().cloned())
        .map(|m| {
            m.into_iter()
                .filter_map(|(k, x)| x.as_f64().map(|f| (k, f)))
                .collect()
        })
        .unwrap_or_default();
    let details = serde_json::json!({
        "data": report.data,
        "fingerprint": report.fingerprint,
        "rows": report.rows,
        "period": [report.period.0, report.period.1],
        "metrics": report.metrics,
        "trading": trading,
        "drift_share": report.drift_share,
        "dataset_drift": dataset_drift,
        "drifted_features": report.drift.iter().filter(|d| d.drifted).map(|d| &d.column).collect::<Vec<_>>(),
        "gates": report.gates,
        "gates_passed": crate::gates::failed_hard(&report.gates).is_empty(),
    });
    store.append_event(&NewEvent {
        name: &v.name,
        version: Some(v.version),
        action: "evaluation",
        user: &super::current_user(),
        reason: &report.data,
        details: &details.to_string(),
    })
}

fn evaluation_of(e: &AuditEntry) -> Option<Evaluation> {
    let d: Value = serde_json::from_str(&e.details).ok()?;
    let num_map = |k: &str| -> BTreeMap<String, f64> {
        d.get(k)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, x)| x.as_f64().map(|f| (k.clone(), f)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let period = d.get("period").and_then(Value::as_array);
    let at = |i: usize| {
        period
            .and_then(|p| p.get(i))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Some(Evaluation {
        id: e.id,
        time: e.time,
        user: e.user_id.clone(),
        version: e.version?,
        data: text("data"),
        fingerprint: text("fingerprint"),
        rows: d.get("rows").and_then(Value::as_u64).unwrap_or(0) as usize,
        period: (at(0), at(1)),
        metrics: num_map("metrics"),
        trading: num_map("trading"),
        drift_share: d
            .get("drift_share")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN),
        dataset_drift: d
            .get("dataset_drift")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        drifted_features: d
            .get("drifted_features")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        gates: d
            .get("gates")
            .and_then(|g| serde_json::from_value::<Vec<GateRecord>>(g.clone()).ok())
            .map(|g| g.into_iter().map(GateRecord::into_result).collect())
            .unwrap_or_default(),
        gates_passed: d
            .get("gates_passed")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    })
}

/// A gate result as stored (the fields of [`GateResult`]).
#[derive(serde::Deserialize)]
struct GateRecord {
    rule: String,
    level: String,
    value: Option<f64>,
    passed: bool,
}

impl GateRecord {
    fn into_result(self) -> GateResult {
        GateResult {
            rule: self.rule,
            level: self.level,
            value: self.value,
            passed: self.passed,
        }
    }
}

/// Performance over time: the model's evaluations, oldest first, with the metric followed and
/// warnings about the latest one.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// The metric followed (`--metric`, or the first metric of the first evaluation).
    pub metric: Option<String>,
    /// The evaluations, oldest first.
    pub evaluations: Vec<Evaluation>,
    /// What the latest evaluation says that needs attention: a failed gate, drift.
    pub warnings: Vec<String>,
}

/// The model's evaluations over time ([`History`]); `version` restricts them to one version.
/// A `metric` no evaluation has is an error naming the ones they have.
pub fn history(
    store: &dyn Backend,
    name: &str,
    version: Option<&str>,
    metric: Option<&str>,
) -> Result<History, TrackError> {
    store.get_registered_model(name)?;
    let only = version
        .map(|r| super::version_of_model(store, name, r).map(|v| v.version))
        .transpose()?;
    let evaluations: Vec<Evaluation> = store
        .audit_log(name)?
        .iter()
        .filter(|e| e.action == "evaluation")
        .filter_map(evaluation_of)
        .filter(|e| only.is_none_or(|v| e.version == v))
        .collect();
    let known: std::collections::BTreeSet<&String> = evaluations
        .iter()
        .flat_map(|e| e.metrics.keys().chain(e.trading.keys()))
        .collect();
    let metric = match metric {
        Some(m) if !evaluations.is_empty() && !known.contains(&m.to_string()) => {
            let names: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            return Err(TrackError::Invalid(format!(
                "--metric {m:?}: no evaluation of {name} has it; they have {}",
                names.join(", ")
            )));
        }
        Some(m) => Some(m.to_string()),
        None => evaluations
            .first()
            .and_then(|e| e.metrics.keys().next().cloned()),
    };
    let mut warnings = Vec::new();
    if let Some(last) = evaluations.last() {
        for g in last.gates.iter().filter(|g| !g.passed) {
            warnings.push(format!(
                "the latest evaluation (version {}, {}) fails {} gate {}{}",
                last.version,
                last.data,
                g.level,
                g.rule,
                g.value
                    .map_or(String::new(), |v| format!(" (value {v:.6})"))
            ));
        }
        if last.dataset_drift {
            warnings.push(format!(
                "the latest evaluation (version {}, {}) drifted: {:.0}% of features ({})",
                last.version,
                last.data,
                last.drift_share * 100.0,
                last.drifted_features.join(", ")
            ));
        }
    }
    Ok(History {
        metric,
        evaluations,
        warnings,
    })
}

/// One changelog entry.
#[derive(Debug, Clone, Serialize)]
pub struct ChangelogEntry {
    /// The audit entry's id (entries are in commit order).
    pub id: i64,
    /// When, ms since the epoch.
    pub time: i64,
    /// Who.
    pub user: String,
    /// The audit action (`create_version`, `register`, `transition_stage`, `set_alias`,
    /// `note`, `evaluation`, `promotion_blocked`, ...).
    pub action: String,
    /// The version concerned.
    pub version: Option<u32>,
    /// One line saying what happened.
    pub title: String,
    /// Further lines (diffs, checks, metrics).
    pub lines: Vec<String>,
    /// The recorded details, as data.
    pub details: Value,
}

fn stage_name(stored: Option<&str>) -> String {
    stored.and_then(|s| Stage::parse(s).ok()).map_or_else(
        || stored.unwrap_or("-").to_string(),
        |s| s.name().to_string(),
    )
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.6}"))
}

fn gate_lines(gates: &Value, out: &mut Vec<String>) {
    for g in gates.as_array().into_iter().flatten() {
        let passed = g.get("passed").and_then(Value::as_bool).unwrap_or(false);
        out.push(format!(
            "gate {} [{}]: {} (value {})",
            g.get("rule").and_then(Value::as_str).unwrap_or("?"),
            g.get("level").and_then(Value::as_str).unwrap_or("?"),
            if passed { "passed" } else { "FAILED" },
            num(g.get("value").and_then(Value::as_f64)),
        ));
    }
}

fn check_lines(d: &Value, out: &mut Vec<String>) {
    if let Some(note) = d.get("gates_note").and_then(Value::as_str) {
        out.push(format!("gates: {note}"));
    }
    gate_lines(d.get("gates").unwrap_or(&Value::Null), out);
    if let Some(s) = d.get("significance").filter(|s| !s.is_null()) {
        out.push(format!(
            "against production version {} on {} shared holdout rows: {}",
            s.get("against").and_then(Value::as_u64).unwrap_or(0),
            s.get("shared_rows").and_then(Value::as_u64).unwrap_or(0),
            s.get("verdict").and_then(Value::as_str).unwrap_or("?")
        ));
    }
}

fn entry_of(e: &AuditEntry) -> ChangelogEntry {
    let details: Value = serde_json::from_str(&e.details).unwrap_or(Value::Null);
    let v = e
        .version
        .map_or_else(String::new, |v| format!("version {v}"));
    let mut lines = Vec::new();
    let title = match e.action.as_str() {
        "create_model" => "model created".to_string(),
        "delete_model" => "model deleted".to_string(),
        "create_version" => format!(
            "{v} created{}",
            e.to.as_deref()
                .map_or(String::new(), |s| format!(" as {s}"))
        ),
        "delete_version" => format!("{v} deleted (it was in {})", stage_name(e.from.as_deref())),
        "register" => {
            let d = &details;
            let run = d
                .get("source_run_id")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let semver = d.get("semver").and_then(Value::as_str).unwrap_or("-");
            let bump = match (
                d.get("semver_given").and_then(Value::as_bool),
                d.get("bump").and_then(Value::as_str),
            ) {
                (Some(true), _) => "semver given".to_string(),
                (_, Some(b)) => format!("{b} bump"),
                _ => "first version".to_string(),
            };
            if let Some(p) = d.get("parent").and_then(Value::as_u64) {
                lines.push(format!("parent: version {p}"));
            }
            let compared = d.get("compared_with").and_then(Value::as_u64);
            if let Some(c) = compared {
                lines.push(format!("settings changed against version {c}:"));
                let params = d.get("params").and_then(Value::as_array);
                if params.is_none_or(|p| p.is_empty()) {
                    lines.push("  no setting changed".to_string());
                }
                for p in params.into_iter().flatten() {
                    let side = |k: &str| {
                        p.get(k)
                            .and_then(Value::as_str)
                            .map_or("(unset)".to_string(), String::from)
                    };
                    lines.push(format!(
                        "  {}: {} → {} ({})",
                        p.get("key").and_then(Value::as_str).unwrap_or("?"),
                        side("before"),
                        side("after"),
                        p.get("bump").and_then(Value::as_str).unwrap_or("?")
                    ));
                }
            }
            let metrics = d.get("metrics").and_then(Value::as_array);
            if metrics.is_some_and(|m| !m.is_empty()) {
                lines.push(match compared {
                    Some(c) => format!("metrics (version {c} → this one):"),
                    None => "metrics:".to_string(),
                });
            }
            for m in metrics.into_iter().flatten() {
                let (b, a) = (
                    m.get("before").and_then(Value::as_f64),
                    m.get("after").and_then(Value::as_f64),
                );
                let key = m.get("key").and_then(Value::as_str).unwrap_or("?");
                match (b, a) {
                    (Some(b), Some(a)) => {
                        lines.push(format!("  {key}: {b:.6} → {a:.6} ({:+.6})", a - b))
                    }
                    (None, Some(a)) => lines.push(format!("  {key}: {a:.6}")),
                    _ => lines.push(format!("  {key}: {} → {}", num(b), num(a))),
                }
            }
            match d.get("gates_passed").and_then(Value::as_bool) {
                Some(true) => lines.push("its run passed its hard gates".into()),
                Some(false) => lines.push("its run FAILED a hard gate".into()),
                None => lines.push("its run had no gates".into()),
            }
            format!("{v} ({semver}) registered from run {run}, {bump}")
        }
        "transition_stage" => {
            check_lines(&details, &mut lines);
            let forced = details.get("forced").and_then(Value::as_bool) == Some(true);
            let rollback = details.get("rollback").and_then(Value::as_bool) == Some(true);
            format!(
                "{v}: {} → {}{}{}",
                stage_name(e.from.as_deref()),
                stage_name(e.to.as_deref()),
                if forced { " (FORCED)" } else { "" },
                if rollback { " (rollback)" } else { "" },
            )
        }
        "promotion_blocked" => {
            check_lines(&details, &mut lines);
            format!("{v}: promotion to {} blocked", e.reason)
        }
        "set_alias" => format!(
            "alias @{} → {}{}",
            e.reason,
            e.to.as_deref().unwrap_or("?"),
            e.from
                .as_deref()
                .map_or(String::new(), |f| format!(" (was {f})"))
        ),
        "delete_alias" => format!(
            "alias @{} removed (was {})",
            e.reason,
            e.from.as_deref().unwrap_or("?")
        ),
        "note" => {
            lines.extend(e.reason.lines().map(String::from));
            if v.is_empty() {
                "note".to_string()
            } else {
                format!("note on {v}")
            }
        }
        "evaluation" => {
            if let Some(ev) = evaluation_of(e) {
                lines.push(format!(
                    "{} rows, {} to {}",
                    ev.rows, ev.period.0, ev.period.1
                ));
                let ms: Vec<String> = ev
                    .metrics
                    .iter()
                    .map(|(k, x)| format!("{k} {x:.6}"))
                    .collect();
                lines.push(format!("metrics: {}", ms.join(", ")));
                if let Some(sr) = ev.trading.get("sharpe") {
                    lines.push(format!("sharpe {sr:.4}"));
                }
                lines.push(format!(
                    "drift: {:.0}% of features{}",
                    ev.drift_share * 100.0,
                    if ev.dataset_drift { " (DRIFTED)" } else { "" }
                ));
                gate_lines(details.get("gates").unwrap_or(&Value::Null), &mut lines);
            }
            format!("{v} evaluated on {}", e.reason)
        }
        other => {
            if !e.reason.is_empty() {
                lines.push(e.reason.clone());
            }
            format!("{other} {v}")
        }
    };
    if matches!(e.action.as_str(), "transition_stage") && !e.reason.is_empty() {
        lines.insert(0, format!("reason: {}", e.reason));
    }
    ChangelogEntry {
        id: e.id,
        time: e.time,
        user: e.user_id.clone(),
        action: e.action.clone(),
        version: e.version,
        title,
        lines,
        details,
    }
}

/// The model's changelog, newest first: every audit entry in words.
pub fn changelog(store: &dyn Backend, name: &str) -> Result<Vec<ChangelogEntry>, TrackError> {
    // The log outlives a deleted model; a name that never existed has an empty log.
    let log = store.audit_log(name)?;
    if log.is_empty() {
        store.get_registered_model(name)?;
    }
    let mut entries: Vec<ChangelogEntry> = log.iter().map(entry_of).collect();
    entries.reverse();
    Ok(entries)
}

/// The changelog as Markdown: a heading, then one section per entry (`time` formats its
/// milliseconds).
pub fn changelog_markdown(
    name: &str,
    entries: &[ChangelogEntry],
    time: impl Fn(i64) -> String,
) -> String {
    let mut out = format!("# Changelog of {name}\n");
    for e in entries {
        out.push_str(&format!("\n## {} · {}\n\n", time(e.time), e.title));
        out.push_str(&format!("- by {}\n", e.user));
        for l in &e.lines {
            let indent = l.len() - l.trim_start().len();
            let pad = if indent > 0 { "  " } else { "" };
            out.push_str(&format!("{pad}- {}\n", l.trim_start()));
        }
    }
    out
}
