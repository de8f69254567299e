//! What a version came from and how it differs from its parent: the lineage tags copied from
//! its run, the semver bump rule, the parameter and metric diffs, and the walk back along
//! parents.

use std::collections::BTreeMap;

use hone_track::registry::parse_semver;
use hone_track::{Backend, ModelVersion, Run, TrackError, keys};
use serde::Serialize;

/// Model settings that say how a model was computed rather than what it is: a retrain with
/// another thread count, log level or seed is a patch, wherever the key sits (`seed`,
/// `model.params.num_threads`).
pub const EXECUTION_SETTINGS: &[&str] = &[
    "num_threads",
    "n_jobs",
    "nthread",
    "threads",
    "verbosity",
    "verbose",
    "seed",
    "random_state",
    "deterministic",
    "force_col_wise",
    "force_row_wise",
];

/// How much a version changed against the one it is compared with, and so which part of the
/// semver moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    /// The same configuration, retrained (newer data, another seed, other validation).
    Patch,
    /// Another model family, other hyperparameters or preprocessing.
    Minor,
    /// Another feature set, target, task or horizon.
    Major,
}

impl Bump {
    /// `major`, `minor` or `patch`.
    pub fn name(self) -> &'static str {
        match self {
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }

    /// What a change of `key` (a run param, or `features` / `task`) means for the semver:
    /// the feature definition (`data.features`, `data.exclude`, `data.derive.*`), the target
    /// (`target.*`, its horizon included) and the task are major; the model (`model.*`: family
    /// and hyperparameters) and preprocessing (`preprocess.*`) minor; anything else (the data
    /// file, time format, filling, seed, split, trading, gates, tracking) a patch, as are the
    /// execution settings anywhere (threads, log level, seeds: [`EXECUTION_SETTINGS`]).
    pub fn of_key(key: &str) -> Bump {
        let under = |prefix: &str| key == prefix || key.starts_with(&format!("{prefix}."));
        let last = key.rsplit('.').next().unwrap_or(key);
        if EXECUTION_SETTINGS.contains(&last) {
            // How a model was computed (threads, logging, seeds), not what it is.
            return Bump::Patch;
        }
        if [
            "features",
            "task",
            "target",
            "data.features",
            "data.exclude",
            "data.derive",
        ]
        .iter()
        .any(|p| under(p))
        {
            Bump::Major
        } else if under("model") || under("preprocess") {
            Bump::Minor
        } else {
            Bump::Patch
        }
    }

    /// `base` (the highest semver the model ever had) bumped at this level.
    pub fn apply(self, base: (u64, u64, u64)) -> Result<String, TrackError> {
        let (a, b, c) = base;
        let overflow = || TrackError::Invalid(format!("cannot bump {a}.{b}.{c}: too large"));
        Ok(match self {
            Bump::Major => format!("{}.0.0", a.checked_add(1).ok_or_else(overflow)?),
            Bump::Minor => format!("{a}.{}.0", b.checked_add(1).ok_or_else(overflow)?),
            Bump::Patch => format!("{a}.{b}.{}", c.checked_add(1).ok_or_else(overflow)?),
        })
    }
}

/// One setting that differs between two versions' runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamChange {
    /// The run param (`model.params.learning_rate`), or `features` / `task`.
    pub key: String,
    /// The value in the older version (absent: not set).
    pub before: Option<String>,
    /// The value in the newer version.
    pub after: Option<String>,
    /// What the change means for the semver.
    pub bump: Bump,
}

/// One metric of two versions' runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricChange {
    /// The metric (`cv.roc_auc.mean`, `holdout.trading.sharpe`).
    pub key: String,
    /// Its value in the older version's run.
    pub before: Option<f64>,
    /// Its value in the newer version's run.
    pub after: Option<f64>,
}

/// The params that identify what a run trained, with the feature list and task from its
/// training input added as `features` and `task`. `tracking.*` and `name` are left out: they
/// say where a run was recorded, not what it trained.
pub fn run_settings(
    store: &dyn Backend,
    run: &Run,
) -> Result<BTreeMap<String, String>, TrackError> {
    let mut out: BTreeMap<String, String> = run
        .params
        .iter()
        .filter(|(k, _)| !(k == "name" || k.starts_with("tracking.")))
        .cloned()
        .collect();
    let inputs = store.run_inputs(&run.info.run_id)?;
    if let Some(train) = inputs.iter().find(|i| i.context == "train")
        && let Ok(schema) = serde_json::from_str::<serde_json::Value>(&train.schema)
    {
        if let Some(f) = schema.get("features").filter(|f| f.is_array()) {
            out.insert("features".into(), f.to_string());
        }
        if let Some(t) = schema.get("task").filter(|t| !t.is_null()) {
            out.insert("task".into(), t.to_string());
        }
    }
    Ok(out)
}

/// The settings that differ between `before` and `after` ([`run_settings`]), by key.
pub fn param_changes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<ParamChange> {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| ParamChange {
            key: k.clone(),
            before: before.get(k).cloned(),
            after: after.get(k).cloned(),
            bump: Bump::of_key(k),
        })
        .collect()
}

/// The run's metrics (the store keeps each one's latest value), by key.
pub fn run_metrics(run: &Run) -> BTreeMap<String, f64> {
    run.metrics
        .iter()
        .map(|m| (m.key.clone(), m.point.value))
        .collect()
}

/// The summary metrics of two runs side by side: cross-validation means, holdout metrics and
/// trading results (the numbers a reviewer compares), by key.
pub fn metric_changes(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> Vec<MetricChange> {
    let summary = |k: &str| {
        (k.starts_with("cv.") && k.ends_with(".mean"))
            || k.starts_with("holdout.")
            || k.starts_with("cv.trading.")
            || matches!(k, "dsr" | "pbo" | "drift_share")
    };
    let keys: std::collections::BTreeSet<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| summary(k))
        .collect();
    keys.into_iter()
        .map(|k| MetricChange {
            key: k.clone(),
            before: before.get(k).copied(),
            after: after.get(k).copied(),
        })
        .collect()
}

/// The semver a new version gets: `1.0.0` for a model's first, else the highest semver the
/// model ever had (`semvers`, deleted versions included) bumped at `bump`.
pub fn next_semver<'a>(
    semvers: impl IntoIterator<Item = &'a str>,
    bump: Bump,
) -> Result<String, TrackError> {
    let mut highest: Option<(u64, u64, u64)> = None;
    for s in semvers {
        let p = parse_semver(s)?;
        if highest.is_none_or(|h| p > h) {
            highest = Some(p);
        }
    }
    match highest {
        None => Ok(super::FIRST_SEMVER.to_string()),
        Some(h) => bump.apply(h),
    }
}

/// The lineage tags of a version registered from `run`: where its data came from (fingerprint,
/// source, digest and span of the training rows), what it is (task, features, config and model
/// hashes), what built it (git commit and dirty flag, hone and library versions) and its
/// parent. Values the run does not have are left out, except the git commit and dirty flag,
/// which say `unknown` so that their absence is explicit.
pub fn lineage_tags(
    store: &dyn Backend,
    run: &Run,
    parent: Option<&ModelVersion>,
) -> Result<Vec<(String, String)>, TrackError> {
    let run_id = &run.info.run_id;
    let tag = |key: &str| {
        run.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let artifacts = store.list_artifacts(run_id)?;
    let sha_of = |path: &str| {
        artifacts
            .iter()
            .find(|a| a.path == path)
            .map(|a| a.sha256.clone())
    };
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            tags.push((k.to_string(), v));
        }
    };
    push(keys::LINEAGE_FINGERPRINT, tag(keys::FINGERPRINT));
    push(keys::LINEAGE_HONE_VERSION, tag(keys::VERSION));
    push(keys::LINEAGE_DEPENDENCIES, tag(keys::DEPENDENCIES));
    push(
        keys::LINEAGE_GIT_COMMIT,
        Some(tag("mlflow.source.git.commit").unwrap_or_else(|| "unknown".into())),
    );
    push(
        keys::LINEAGE_GIT_DIRTY,
        Some(tag(keys::GIT_DIRTY).unwrap_or_else(|| "unknown".into())),
    );
    push(keys::LINEAGE_CONFIG_SHA256, sha_of("config.toml"));
    push(keys::LINEAGE_MODEL_SHA256, model_digest(&artifacts));
    let inputs = store.run_inputs(run_id)?;
    if let Some(train) = inputs.iter().find(|i| i.context == "train") {
        push(keys::LINEAGE_DATASET, Some(train.source.clone()));
        push(keys::LINEAGE_DATASET_DIGEST, Some(train.digest.clone()));
        // The schema is written by hone's tracking; another writer's simply adds no tags.
        if let Ok(schema) = serde_json::from_str::<serde_json::Value>(&train.schema) {
            let text = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            push(
                keys::LINEAGE_FEATURES,
                schema
                    .get("features")
                    .filter(|f| f.is_array())
                    .map(|f| f.to_string()),
            );
            push(
                keys::LINEAGE_TASK,
                schema.get("task").filter(|t| !t.is_null()).map(text),
            );
            let rows = schema.get("rows");
            for (key, field) in [
                (keys::LINEAGE_FIRST_ROW, "first"),
                (keys::LINEAGE_LAST_ROW, "last"),
                (keys::LINEAGE_ROWS, "count"),
            ] {
                push(key, rows.and_then(|r| r.get(field)).map(text));
            }
        }
    }
    push(keys::LINEAGE_PARENT, parent.map(|p| p.version.to_string()));
    Ok(tags)
}

/// The SHA-256 of a run's model files: the manifest `model.json` and the fitted pipeline
/// (`pipeline/*`), each as `path sha256` on its own line, by path. Two versions with the same
/// digest predict identically.
fn model_digest(artifacts: &[hone_track::ArtifactRecord]) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut files: Vec<&hone_track::ArtifactRecord> = artifacts
        .iter()
        .filter(|a| a.path == "model.json" || a.path.starts_with("pipeline/"))
        .collect();
    if files.is_empty() {
        return None;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    for f in files {
        h.update(format!("{} {}\n", f.path, f.sha256));
    }
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A version's lineage tag (`key` is the full tag name).
pub fn lineage_of<'a>(v: &'a ModelVersion, key: &str) -> Option<&'a str> {
    v.tags
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, x)| x.as_str())
}

/// The version's parent, when it has one: the number recorded at registration. A parent that
/// was deleted since is [`TrackError::NotFound`] naming it.
pub fn parent_of(
    store: &dyn Backend,
    v: &ModelVersion,
) -> Result<Option<ModelVersion>, TrackError> {
    let Some(p) = lineage_of(v, keys::LINEAGE_PARENT) else {
        return Ok(None);
    };
    let n: u32 = p.parse().map_err(|_| {
        TrackError::Invalid(format!(
            "version {} of {} has a malformed parent tag {p:?}",
            v.version, v.name
        ))
    })?;
    store.get_model_version(&v.name, n).map(Some)
}

/// The chain from `v` back to the model's first version, `v` first. A deleted ancestor ends
/// the chain (it is reported by [`lineage_chain`]'s caller as the `missing_parent`).
pub fn lineage_chain(
    store: &dyn Backend,
    v: ModelVersion,
) -> Result<(Vec<ModelVersion>, Option<String>), TrackError> {
    let mut chain = vec![v];
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let last = chain.last().expect("the chain starts with one version");
        if !seen.insert(last.version) {
            // Parents are always older versions, so a cycle means a hand-edited tag.
            return Err(TrackError::Invalid(format!(
                "the lineage of {} loops at version {}",
                last.name, last.version
            )));
        }
        match parent_of(store, last) {
            Ok(Some(p)) => chain.push(p),
            Ok(None) => return Ok((chain, None)),
            Err(TrackError::NotFound(m)) => return Ok((chain, Some(m))),
            Err(e) => return Err(e),
        }
    }
}

/// Every live version, of any model, trained on the dataset `fingerprint` (its full SHA-256,
/// or a prefix of at least 8 characters), by model then version.
pub fn versions_on_dataset(
    store: &dyn Backend,
    fingerprint: &str,
) -> Result<Vec<ModelVersion>, TrackError> {
    if fingerprint.len() < 8 || !fingerprint.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(TrackError::Invalid(format!(
            "--dataset {fingerprint:?}: expected a dataset fingerprint (hex, at least 8 \
             characters; `hone models show NAME/VERSION` prints it)"
        )));
    }
    let want = fingerprint.to_ascii_lowercase();
    let mut out = Vec::new();
    for m in store.list_registered_models("")? {
        for v in store.list_model_versions(&m.name)? {
            if lineage_of(&v, keys::LINEAGE_FINGERPRINT).is_some_and(|f| f.starts_with(&want)) {
                out.push(v);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bump_follows_what_changed() {
        for (key, want) in [
            ("features", Bump::Major),
            ("task", Bump::Major),
            ("target.horizon", Bump::Major),
            ("target.kind", Bump::Major),
            ("data.derive.returns", Bump::Major),
            ("data.features", Bump::Major),
            ("model.type", Bump::Minor),
            ("model.params.learning_rate", Bump::Minor),
            ("preprocess.scale", Bump::Minor),
            ("data.path", Bump::Patch),
            ("data.fill", Bump::Patch),
            ("seed", Bump::Patch),
            ("split.n_splits", Bump::Patch),
            ("targets", Bump::Patch),
            ("modelx", Bump::Patch),
            ("model.params.num_threads", Bump::Patch),
            ("model.params.seed", Bump::Patch),
            ("model.params.verbosity", Bump::Patch),
        ] {
            assert_eq!(Bump::of_key(key), want, "{key}");
        }
        let before: BTreeMap<String, String> = [
            ("data.path", "a.csv"),
            ("model.params.num_leaves", "31"),
            ("target.horizon", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut after = before.clone();
        after.insert("data.path".into(), "b.csv".into());
        let changes = param_changes(&before, &after);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes.iter().map(|c| c.bump).max(), Some(Bump::Patch));
        after.insert("model.params.num_leaves".into(), "63".into());
        assert_eq!(
            param_changes(&before, &after).iter().map(|c| c.bump).max(),
            Some(Bump::Minor)
        );
        after.remove("target.horizon");
        let changes = param_changes(&before, &after);
        assert_eq!(changes.iter().map(|c| c.bump).max(), Some(Bump::Major));
        assert_eq!(changes[2].key, "target.horizon");
        assert_eq!(changes[2].after, None);
    }

    #[test]
    fn semvers_bump_the_highest_ever() {
        assert_eq!(next_semver([], Bump::Major).unwrap(), "1.0.0");
        let ever = ["1.0.9", "1.2.0", "1.1.5"];
        assert_eq!(next_semver(ever, Bump::Patch).unwrap(), "1.2.1");
        assert_eq!(next_semver(ever, Bump::Minor).unwrap(), "1.3.0");
        assert_eq!(next_semver(ever, Bump::Major).unwrap(), "2.0.0");
        assert!(next_semver(["1.0.x"], Bump::Patch).is_err());
        assert!(Bump::Patch.apply((1, 1, u64::MAX)).is_err());
    }
}
