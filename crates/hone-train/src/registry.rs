//! The model registry's first user-facing functions: register a tracked training run as a new
//! model version (with lineage copied from the run), and resolve a model reference
//! (`NAME/3`, `NAME/1.4.0`, `NAME@alias`, with or without a `models:/` prefix) to a version.
//!
//! Storage is `hone_track`'s [`Registry`]; this module adds what needs knowledge of training
//! runs: which run holds a model, and which of its tags and artifacts are its lineage.
//!
//! Not built yet: the full semver bump rule (major/minor/patch chosen from what changed between
//! versions); [`register`] bumps the patch number when no semver is given.

use hone_track::registry::parse_semver;
use hone_track::{Backend, ModelVersion, RunStatus, TrackError, keys};

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
    let dir = crate::evaluate::model_dir_of_run(store, blobs, &version.source_run_id)?;
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
        return Ok((v.source_run_id.clone(), Some(v)));
    }
    Ok((arg.to_string(), None))
}

/// The semver a new version gets when none is given: [`FIRST_SEMVER`] when the model never had
/// one, else the highest it ever had (`semvers`: deleted versions included, since the store
/// refuses any semver not above them) with the patch number bumped.
pub fn next_semver<'a>(semvers: impl IntoIterator<Item = &'a str>) -> Result<String, TrackError> {
    let mut highest: Option<(u64, u64, u64)> = None;
    for s in semvers {
        let p = parse_semver(s)?;
        if highest.is_none_or(|h| p > h) {
            highest = Some(p);
        }
    }
    match highest {
        None => Ok(FIRST_SEMVER.to_string()),
        Some((a, b, c)) => {
            let c = c.checked_add(1).ok_or_else(|| {
                TrackError::Invalid(format!("cannot bump the patch number of {a}.{b}.{c}"))
            })?;
            Ok(format!("{a}.{b}.{c}"))
        }
    }
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

/// Registers a finished `hone train` / `hone tune` run as a new version of the registered model
/// `name`, creating the model if it does not exist (`description` becomes its description then,
/// and is also kept on the version as [`keys::REGISTRY_DESCRIPTION`]).
///
/// The run must exist, be FINISHED and hold a model (`config.toml` and `model.json`
/// artifacts). `semver` defaults to [`next_semver`]. The version carries lineage tags copied
/// from the run: dataset fingerprint, training data source and digest, features, the SHA-256 of
/// the config and model artifacts, and the hone version (each only when the run has it).
pub fn register(
    store: &dyn Backend,
    run_id: &str,
    name: &str,
    semver: Option<&str>,
    description: &str,
) -> Result<ModelVersion, TrackError> {
    hone_track::registry::validate_model_name(name)?;
    let run = store.get_run(run_id)?;
    if run.info.status != RunStatus::Finished {
        return Err(TrackError::Invalid(format!(
            "run {run_id} is {}, not FINISHED: only a finished run can be registered",
            run.info.status.as_str()
        )));
    }
    let artifacts = store.list_artifacts(run_id)?;
    let sha_of = |path: &str| {
        artifacts
            .iter()
            .find(|a| a.path == path)
            .map(|a| a.sha256.clone())
    };
    if let Some(missing) = MODEL_ARTIFACTS.iter().find(|f| sha_of(f).is_none()) {
        return Err(TrackError::Invalid(format!(
            "run {run_id} holds no model (no {missing} artifact): register a run recorded by \
             `hone train` or `hone tune`"
        )));
    }

    let mut tags: Vec<(String, String)> = Vec::new();
    let tag = |key: &str| {
        run.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    if let Some(v) = tag(keys::FINGERPRINT) {
        tags.push((keys::LINEAGE_FINGERPRINT.into(), v));
    }
    if let Some(v) = tag(keys::VERSION) {
        tags.push((keys::LINEAGE_HONE_VERSION.into(), v));
    }
    if let Some(v) = sha_of("config.toml") {
        tags.push((keys::LINEAGE_CONFIG_SHA256.into(), v));
    }
    if let Some(v) = sha_of("model.json") {
        tags.push((keys::LINEAGE_MODEL_SHA256.into(), v));
    }
    let inputs = store.run_inputs(run_id)?;
    if let Some(train) = inputs.iter().find(|i| i.context == "train") {
        tags.push((keys::LINEAGE_DATASET.into(), train.source.clone()));
        tags.push((keys::LINEAGE_DATASET_DIGEST.into(), train.digest.clone()));
        // The schema's feature list is written by hone's tracking; a schema without one (another
        // writer) simply adds no tag.
        if let Ok(schema) = serde_json::from_str::<serde_json::Value>(&train.schema)
            && let Some(features) = schema.get("features").filter(|f| f.is_array())
        {
            tags.push((keys::LINEAGE_FEATURES.into(), features.to_string()));
        }
    }
    if !description.is_empty() {
        tags.push((keys::REGISTRY_DESCRIPTION.into(), description.to_string()));
    }

    match store.get_registered_model(name) {
        Ok(_) => {}
        Err(TrackError::NotFound(_)) => match store.create_registered_model(name, description, &[])
        {
            // Another process created it meanwhile: register into theirs.
            Ok(_) | Err(TrackError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        },
        Err(e) => return Err(e),
    }
    let semver = match semver {
        Some(s) => s.to_string(),
        None => next_semver(semvers_ever(store, name)?.iter().map(String::as_str))?,
    };
    store.create_model_version(name, run_id, Some(&semver), &tags)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn default_semver_bumps_the_patch_of_the_highest() {
        assert_eq!(next_semver([]).unwrap(), "1.0.0");
        assert_eq!(next_semver(["1.0.9", "1.2.0", "1.1.5"]).unwrap(), "1.2.1");
        assert!(next_semver(["1.0.x"]).is_err());
    }
}
