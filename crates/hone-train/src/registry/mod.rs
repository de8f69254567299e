//! The model registry's library API, used by `hone models ...` and ready for the server:
//! register a tracked training run as a model version (semver bump rule, lineage, diffs
//! against its parent), resolve model references (`NAME/3`, `NAME/1.4.0`, `NAME@alias`, with
//! or without `models:/`), promote with gates and a significance test ([`promote`]), roll back,
//! and read the changelog, evaluations and lineage ([`changelog`], [`lineage`]).
//!
//! Storage is `hone_track`'s [`Registry`](hone_track::Registry); this module adds what needs
//! knowledge of training runs: which run holds a model, which of its tags and artifacts are its
//! lineage, what its config's gates say and how its predictions compare.

pub mod changelog;
pub mod lineage;
pub mod promote;

use std::collections::BTreeMap;

use hone_track::registry::parse_semver;
use hone_track::{Backend, ModelVersion, RunStatus, TrackError, keys};
use serde::Serialize;

pub use lineage::{Bump, MetricChange, ParamChange};

/// The artifacts a run needs to count as holding a model: what `hone train` and `hone tune`'s
/// refit record, and what `hone predict --model RUN_ID` reads back.
const MODEL_ARTIFACTS: &[&str] = &["config.toml", "model.json"];

/// The semver of a model's first version when none is given.
pub const FIRST_SEMVER: &str = "1.0.0";

/// A parsed model reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// A bare registered-model name (no version).
    Model(String),
    /// `NAME/3`: a version number.
    Version(String, u32),
    /// `NAME/1.4.0`: a semantic version.
    Semver(String, String),
    /// `NAME@alias`.
    Alias(String, String),
}

impl ModelRef {
    /// Parses `NAME`, `NAME/3`, `NAME/1.4.0` or `NAME@alias`, each optionally prefixed with
    /// `models:/` (MLflow's model URI scheme). The version or alias follows the last `/` or
    /// `@` (registered names hold neither: `hone_track::registry::validate_model_name`).
    pub fn parse(reference: &str) -> Result<Self, TrackError> {
        let bad = |why: &str| {
            TrackError::Invalid(format!(
                "invalid model reference {reference:?}: {why} (expected NAME/3, NAME/1.4.0 or \
                 NAME@ALIAS, optionally prefixed with models:/)"
            ))
        };
        let prefixed = reference.strip_prefix("models:/");
        let body = prefixed.unwrap_or(reference);
        if body.is_empty() {
            return Err(bad("empty"));
        }
        if let Some((name, alias)) = body.rsplit_once('@') {
            if name.is_empty() {
                return Err(bad("no model name before '@'"));
            }
            if alias.is_empty() {
                return Err(bad("no alias after '@'"));
            }
            return Ok(ModelRef::Alias(name.to_string(), alias.to_string()));
        }
        let Some((name, version)) = body.rsplit_once('/') else {
            if prefixed.is_some() {
                return Err(bad("a models:/ URI names a version or an alias"));
            }
            return Ok(ModelRef::Model(body.to_string()));
        };
        if name.is_empty() {
            return Err(bad("no model name before '/'"));
        }
        if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit()) {
            return match version.parse::<u32>() {
                Ok(n) if n > 0 => Ok(ModelRef::Version(name.to_string(), n)),
                _ => Err(bad("version numbers start at 1")),
            };
        }
        if parse_semver(version).is_ok() {
            return Ok(ModelRef::Semver(name.to_string(), version.to_string()));
        }
        Err(bad(&format!(
            "{version:?} is neither a version number nor a semver X.Y.Z"
        )))
    }

    /// The registered model's name.
    pub fn name(&self) -> &str {
        match self {
            ModelRef::Model(n)
            | ModelRef::Version(n, _)
            | ModelRef::Semver(n, _)
            | ModelRef::Alias(n, _) => n,
        }
    }
}

/// The model version a reference names (see [`ModelRef::parse`]). A bare model name is refused:
/// it names no version. Unknown models, versions, semvers and aliases are
/// [`TrackError::NotFound`] naming what is missing.
pub fn resolve(store: &dyn Backend, reference: &str) -> Result<ModelVersion, TrackError> {
    match ModelRef::parse(reference)? {
        ModelRef::Model(name) => Err(TrackError::Invalid(format!(
            "model reference {reference:?} names no version: use {name}/VERSION, \
             {name}/X.Y.Z or {name}@ALIAS"
        ))),
        ModelRef::Version(name, v) => {
            // Checked first so that a mistyped name says "model not found", not "version".
            store.get_registered_model(&name)?;
            store.get_model_version(&name, v)
        }
        ModelRef::Semver(name, s) => {
            store.get_registered_model(&name)?;
            store.get_model_version_by_semver(&name, &s)
        }
        ModelRef::Alias(name, a) => {
            store.get_registered_model(&name)?;
            store.get_model_version_by_alias(&name, &a)
        }
    }
}

/// Whether a model argument (of `hone predict --model`, `hone evaluate`, `hone export`,
/// `hone compare`) is a registry reference rather than a run id: anything starting with
/// `models:/`, or a bare `NAME/3`, `NAME/1.4.0` or `NAME@alias`. Callers that also accept a
/// model directory check for an existing directory first: an existing directory always wins.
pub fn is_reference(arg: &str) -> bool {
    arg.starts_with("models:/")
        || matches!(
            ModelRef::parse(arg),
            Ok(ModelRef::Version(..) | ModelRef::Semver(..) | ModelRef::Alias(..))
        )
}

/// A registry reference resolved to its version and that version's model files.
#[derive(Debug)]
pub struct ReferencedModel {
    /// The reference as given.
    pub reference: String,
    /// The model version it names.
    pub version: ModelVersion,
    /// The source run's model directory (see [`crate::evaluate::model_dir_of_run`]).
    pub dir: crate::evaluate::RunModelDir,
}

impl ReferencedModel {
    /// `models:/spx@champion (version 1, run <id>)`: what was used, for human output.
    pub fn describe(&self) -> String {
        describe(&self.reference, &self.version)
    }
}

/// `REFERENCE (version N, run ID)`.
pub fn describe(reference: &str, v: &ModelVersion) -> String {
    format!(
        "{reference} (version {}, run {})",
        v.version, v.source_run_id
    )
}

/// The `model_version` object of `--json` outputs: the reference, name, version, semver,
/// aliases and source run.
pub fn version_json(reference: &str, v: &ModelVersion) -> serde_json::Value {
    serde_json::json!({
        "reference": reference,
        "name": v.name,
        "version": v.version,
        "semver": v.semver,
        "aliases": v.aliases,
        "source_run_id": v.source_run_id,
    })
}

/// The run a version was registered from. A version registered over MLflow's REST API from a
/// logged model without a run has none, and hone loads, compares and promotes only versions
/// it can trace to a run: those are refused with the version's source named.
pub fn run_of_version(v: &ModelVersion) -> Result<&str, TrackError> {
    if v.source_run_id.is_empty() {
        return Err(TrackError::Invalid(format!(
            "version {} of registered model {} was registered without a run (source {}): hone \
             loads, compares and promotes only versions registered from a run",
            v.version,
            v.name,
            hone_track::printable(&v.source)
        )));
    }
    Ok(&v.source_run_id)
}

/// Resolves a registry reference ([`resolve`]) to its version's source run and that run's
/// model files, exactly as a run id is resolved ([`crate::evaluate::model_dir_of_run`]: the
/// run's output folder while it still holds the run's outputs, else its checksummed
/// artifacts in a temporary folder).
pub fn model_dir_of_reference(
    store: &dyn Backend,
    blobs: &hone_track::artifacts::BlobStore,
    reference: &str,
) -> Result<ReferencedModel, crate::TrainError> {
    let version = resolve(store, reference).map_err(|e| match e {
        // A bare `runs/x` that is neither a folder nor a model: say both, or a mistyped
        // directory would read as an unknown registered model only.
        TrackError::NotFound(m) if !reference.starts_with("models:/") => {
            TrackError::NotFound(format!("no directory {reference}, and {m}"))
        }
        e => e,
    })?;
    let dir = crate::evaluate::model_dir_of_run(store, blobs, run_of_version(&version)?)?;
    Ok(ReferencedModel {
        reference: reference.to_string(),
        version,
        dir,
    })
}

/// The run a `hone compare` argument names: a registry reference ([`is_reference`]) resolves
/// to its version's source run (returned with the version), anything else is a run id.
pub fn run_of_argument(
    store: &dyn Backend,
    arg: &str,
) -> Result<(String, Option<ModelVersion>), TrackError> {
    if is_reference(arg) {
        let v = resolve(store, arg)?;
        return Ok((run_of_version(&v)?.to_string(), Some(v)));
    }
    Ok((arg.to_string(), None))
}

/// Every semver the model was ever given, deleted versions included: the audit log records each
/// version's semver at creation and is never rewritten, whereas the store lists live versions
/// only.
fn semvers_ever(store: &dyn Backend, name: &str) -> Result<Vec<String>, TrackError> {
    Ok(store
        .audit_log(name)?
        .into_iter()
        .filter(|e| e.action == "create_version")
        .filter_map(|e| e.to)
        .collect())
}

/// What to register ([`register`]).
#[derive(Debug, Clone, Default)]
pub struct RegisterRequest<'a> {
    /// The finished `hone train` / `hone tune` run holding the model.
    pub run_id: &'a str,
    /// The registered model (created when it does not exist).
    pub name: &'a str,
    /// `X.Y.Z`, overriding the bump rule; must be above every semver the model ever had.
    pub semver: Option<&'a str>,
    /// The parent version (`3`, `1.4.0`, `@alias`, or a full reference to this model);
    /// default: the model's production version.
    pub parent: Option<&'a str>,
    /// Free text: the model's description when this creates it, kept on the version.
    pub description: &'a str,
}

/// A registration and what it found out: the parent, the version the changes were measured
/// against, the bump, the parameter and metric diffs, and the run's gates.
#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    /// The new version.
    #[serde(skip)]
    pub version: ModelVersion,
    /// Its parent (the production version when registered, or `--parent`), if any.
    pub parent: Option<u32>,
    /// The version the changes are measured against: the parent, else the latest version.
    pub compared_with: Option<u32>,
    /// The bump rule's verdict (`None` for a first version).
    pub bump: Option<Bump>,
    /// Whether the semver was given (`--version`) rather than derived.
    pub semver_given: bool,
    /// Settings that differ from `compared_with`'s run.
    pub params: Vec<ParamChange>,
    /// Summary metrics of both runs.
    pub metrics: Vec<MetricChange>,
    /// Whether the run passed its hard gates (`None`: it had none).
    pub gates_passed: Option<bool>,
}

/// A version of this model named by `reference`: a number (`3`), a semver (`1.4.0`), an alias
/// (`@champion`), or a full reference (`NAME/3`, `models:/NAME@champion`) that must name this
/// model.
pub fn version_of_model(
    store: &dyn Backend,
    name: &str,
    reference: &str,
) -> Result<ModelVersion, TrackError> {
    let full = if reference.contains('/') || reference.contains('@') && !reference.starts_with('@')
    {
        reference.to_string()
    } else if let Some(alias) = reference.strip_prefix('@') {
        format!("{name}@{alias}")
    } else {
        format!("{name}/{reference}")
    };
    let parsed = ModelRef::parse(&full)?;
    if parsed.name() != name {
        return Err(TrackError::Invalid(format!(
            "{reference:?} names registered model {}, not {name}",
            parsed.name()
        )));
    }
    resolve(store, &full)
}

/// Registers a finished `hone train` / `hone tune` run as a new version of a registered model,
/// creating the model when it does not exist.
///
/// The run must exist, be FINISHED and hold a model (`config.toml` and `model.json`
/// artifacts). The version's parent is `--parent` or the model's production version. Its
/// semver, unless given, follows the bump rule ([`Bump::of_key`]) applied to what changed
/// against the parent (or, without one, the latest version): `1.0.0` for a first version. The
/// version carries the lineage tags of [`lineage::lineage_tags`], and a `register` event in
/// the audit log keeps the diffs and the run's gates for the changelog.
///
/// Two registrations racing for the same derived semver both succeed: the loser derives the
/// next one and tries again.
pub fn register(
    store: &dyn Backend,
    req: &RegisterRequest<'_>,
) -> Result<Registration, TrackError> {
    let (name, run_id) = (req.name, req.run_id);
    hone_track::registry::validate_model_name(name)?;
    if let Some(s) = req.semver {
        parse_semver(s)?;
    }
    let run = store.get_run(run_id)?;
    if run.info.status != RunStatus::Finished {
        return Err(TrackError::Invalid(format!(
            "run {run_id} is {}, not FINISHED: only a finished run can be registered",
            run.info.status.as_str()
        )));
    }
    let artifacts = store.list_artifacts(run_id)?;
    if let Some(missing) = MODEL_ARTIFACTS
        .iter()
        .find(|f| !artifacts.iter().any(|a| a.path == **f))
    {
        return Err(TrackError::Invalid(format!(
            "run {run_id} holds no model (no {missing} artifact): register a run recorded by \
             `hone train` or `hone tune`"
        )));
    }
    let created = match store.get_registered_model(name) {
        Ok(_) => false,
        Err(TrackError::NotFound(_)) => {
            match store.create_registered_model(name, req.description, &[]) {
                Ok(_) => true,
                // Another process created it meanwhile: register into theirs.
                Err(TrackError::AlreadyExists(_)) => false,
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let outcome = register_into(store, req, &run);
    if created && outcome.is_err() {
        // Leave no empty model behind a refused first registration (nothing points at it).
        if store.list_model_versions(name).is_ok_and(|v| v.is_empty()) {
            let _ = store.delete_registered_model(name);
        }
    }
    outcome
}

fn register_into(
    store: &dyn Backend,
    req: &RegisterRequest<'_>,
    run: &hone_track::Run,
) -> Result<Registration, TrackError> {
    let name = req.name;
    let parent = match req.parent {
        Some(p) => Some(version_of_model(store, name, p)?),
        None => match store.get_model_version_by_alias(name, hone_track::PRODUCTION_ALIAS) {
            Ok(v) => Some(v),
            Err(TrackError::NotFound(_)) => None,
            Err(e) => return Err(e),
        },
    };
    let compared = match &parent {
        Some(p) => Some(p.clone()),
        None => store.list_model_versions(name)?.pop(),
    };
    let settings = lineage::run_settings(store, run)?;
    let metrics_now = lineage::run_metrics(run);
    let (params, metrics, bump) = match &compared {
        Some(c) => {
            let before_run = store.get_run(&c.source_run_id)?;
            let before = lineage::run_settings(store, &before_run)?;
            let params = lineage::param_changes(&before, &settings);
            let bump = params.iter().map(|p| p.bump).max().unwrap_or(Bump::Patch);
            let metrics = lineage::metric_changes(&lineage::run_metrics(&before_run), &metrics_now);
            (params, metrics, Some(bump))
        }
        None => (
            Vec::new(),
            lineage::metric_changes(&BTreeMap::new(), &metrics_now),
            None,
        ),
    };
    let gates_passed = run
        .tags
        .iter()
        .find(|(k, _)| k == keys::GATES_PASSED)
        .map(|(_, v)| v == "true");
    let mut tags = lineage::lineage_tags(store, run, parent.as_ref())?;
    if !req.description.is_empty() {
        tags.push((
            keys::REGISTRY_DESCRIPTION.into(),
            req.description.to_string(),
        ));
    }
    let mut attempts = 0;
    let version = loop {
        let semver = match req.semver {
            Some(s) => s.to_string(),
            None => lineage::next_semver(
                semvers_ever(store, name)?.iter().map(String::as_str),
                bump.unwrap_or(Bump::Patch),
            )?,
        };
        match store.create_model_version(&hone_track::NewModelVersion::from_run(
            name,
            &run.info.run_id,
            Some(&semver),
            &tags,
        )) {
            // A concurrent registration took the derived semver first: derive again.
            Err(TrackError::Invalid(m))
                if req.semver.is_none() && attempts < 20 && m.contains("must be greater") =>
            {
                attempts += 1;
            }
            other => break other?,
        }
    };
    let registration = Registration {
        parent: parent.as_ref().map(|p| p.version),
        compared_with: compared.as_ref().map(|c| c.version),
        bump,
        semver_given: req.semver.is_some(),
        params,
        metrics,
        gates_passed,
        version,
    };
    let mut details = serde_json::to_value(&registration)
        .map_err(|e| TrackError::Invalid(format!("registration summary: {e}")))?;
    details["source_run_id"] = serde_json::json!(run.info.run_id);
    details["semver"] = serde_json::json!(registration.version.semver);
    store.append_event(&hone_track::NewEvent {
        name,
        version: Some(registration.version.version),
        action: "register",
        user: &current_user(),
        reason: req.description,
        details: &details.to_string(),
    })?;
    Ok(registration)
}

/// Who is acting, for the audit log: as for runs and the store's own entries.
pub fn current_user() -> String {
    hone_track::env::current_user()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_without_a_run_are_named_not_looked_up() {
        let v = ModelVersion {
            name: "m".into(),
            version: 2,
            semver: None,
            source_run_id: String::new(),
            source: "models:/m-1".into(),
            run_link: String::new(),
            model_id: "m-1".into(),
            storage_location: String::new(),
            status: "READY".into(),
            current_stage: hone_track::Stage::Development,
            description: String::new(),
            user_id: "u".into(),
            creation_time: 0,
            last_updated_time: 0,
            tags: vec![],
            aliases: vec![],
        };
        let e = run_of_version(&v).unwrap_err().to_string();
        assert!(e.contains("without a run (source models:/m-1)"), "{e}");
        let with_run = ModelVersion {
            source_run_id: "r1".into(),
            ..v
        };
        assert_eq!(run_of_version(&with_run).unwrap(), "r1");
    }

    #[test]
    fn references_parse() {
        let p = |s: &str| ModelRef::parse(s).unwrap();
        assert_eq!(p("m"), ModelRef::Model("m".into()));
        assert_eq!(p("m/3"), ModelRef::Version("m".into(), 3));
        assert_eq!(p("models:/m/3"), ModelRef::Version("m".into(), 3));
        assert_eq!(p("m/1.4.0"), ModelRef::Semver("m".into(), "1.4.0".into()));
        assert_eq!(p("m@prod"), ModelRef::Alias("m".into(), "prod".into()));
        assert_eq!(
            p("models:/m@production"),
            ModelRef::Alias("m".into(), "production".into())
        );
        assert_eq!(p("team/m/2"), ModelRef::Version("team/m".into(), 2));
        for r in ["models:/m/3", "models:/m", "m/3", "m/1.4.0", "m@prod"] {
            assert!(is_reference(r), "{r}");
        }
        for r in ["0123abcd", "out/model", "m", "./x/"] {
            assert!(!is_reference(r), "{r}");
        }
        for bad in [
            "",
            "m/",
            "/3",
            "m@",
            "@a",
            "m/0",
            "m/x",
            "m/1.2",
            "models:/m",
            "models:/",
        ] {
            let e = ModelRef::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid model reference"), "{bad}: {e}");
        }
    }
}
