//! The [`Registry`] interface: MLflow's model registry (registered models, numbered model
//! versions, tags, aliases and the deprecated stages), plus what hone adds for trading desks:
//! an optional semantic version per model version, compare-and-set stage changes and an
//! append-only audit log. Like [`Store`](crate::Store) it knows the data model only, never SQL,
//! so that a remote client could implement it too.
//!
//! Rules every implementation keeps (the store suite checks them on both backends):
//! - version numbers are allocated atomically per model, 1, 2, 3..., and never reused, even
//!   after a version is deleted (deleted versions are kept as tombstones);
//! - a semver, when given, is `X.Y.Z` and strictly greater than every semver the model ever had;
//! - stage changes are compare-and-set on the model's current production version, and each
//!   change is written to the audit log in the same transaction;
//! - the audit log is append-only: no method updates or deletes an entry.

use crate::env::current_user;
use crate::{Result, TrackError};

/// Longest registered-model name (MLflow stores names in a 256-character column).
pub const MAX_MODEL_NAME: usize = 256;
/// Longest alias (MLflow's limit).
pub const MAX_ALIAS: usize = 255;
/// Longest description stored (MLflow's limit for descriptions).
pub const MAX_DESCRIPTION: usize = 5000;
/// Longest registry tag value stored (MLflow's limit for model-version tag values).
pub const MAX_REGISTRY_TAG_VALUE: usize = 5000;

/// A model version's stage. hone's five stages, stored under MLflow's names where MLflow has
/// one (`None`, `Staging`, `Production`, `Archived`) so that MLflow clients read them
/// unchanged; `Deprecated` is hone's own (a former production version, kept ready for a
/// rollback).
///
/// Allowed moves ([`Stage::allowed_next`]):
///
/// | from        | to                                  |
/// |-------------|-------------------------------------|
/// | development | staging, archived                   |
/// | staging     | production, development, archived   |
/// | production  | deprecated, archived                |
/// | deprecated  | production (a rollback), archived   |
/// | archived    | development                         |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Stage {
    /// development (MLflow's `None`): every new version starts here.
    Development,
    /// staging: a candidate under test.
    Staging,
    /// production: the version that trades. hone keeps at most one, and the `production`
    /// alias always points at it.
    Production,
    /// deprecated: a former production version, still loadable and the target of a rollback.
    Deprecated,
    /// archived: retired.
    Archived,
}

/// The alias that always names the model's production version: moved by every transition
/// into production, removed when production is left empty, and refused to
/// [`Registry::set_alias`] and [`Registry::delete_alias`] (it follows the stage).
pub const PRODUCTION_ALIAS: &str = "production";

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 5] = [
        Stage::Development,
        Stage::Staging,
        Stage::Production,
        Stage::Deprecated,
        Stage::Archived,
    ];

    /// The stored spelling: MLflow's (`None`, `Staging`, `Production`, `Archived`), and
    /// `Deprecated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Development => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Deprecated => "Deprecated",
            Stage::Archived => "Archived",
        }
    }

    /// hone's name: `development`, `staging`, `production`, `deprecated`, `archived`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Development => "development",
            Stage::Staging => "staging",
            Stage::Production => "production",
            Stage::Deprecated => "deprecated",
            Stage::Archived => "archived",
        }
    }

    /// Parses a stage by hone's name or MLflow's, case-insensitively (`None` is development).
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "development" => Ok(Stage::Development),
            "staging" => Ok(Stage::Staging),
            "production" => Ok(Stage::Production),
            "deprecated" => Ok(Stage::Deprecated),
            "archived" => Ok(Stage::Archived),
            _ => Err(TrackError::Invalid(format!(
                "invalid model version stage {s:?}: expected development (MLflow's None), \
                 staging, production, deprecated or archived"
            ))),
        }
    }

    /// The stages a version in this stage may move to (the matrix in [`Stage`]'s doc).
    pub fn allowed_next(self) -> &'static [Stage] {
        match self {
            Stage::Development => &[Stage::Staging, Stage::Archived],
            Stage::Staging => &[Stage::Production, Stage::Development, Stage::Archived],
            Stage::Production => &[Stage::Deprecated, Stage::Archived],
            Stage::Deprecated => &[Stage::Production, Stage::Archived],
            Stage::Archived => &[Stage::Development],
        }
    }

    /// Refuses a move the matrix forbids, naming the allowed ones.
    pub fn check_move(self, to: Stage, what: &str) -> Result<()> {
        if self.allowed_next().contains(&to) {
            return Ok(());
        }
        let allowed: Vec<&str> = self.allowed_next().iter().map(|s| s.name()).collect();
        let hint = match (self, to) {
            (Stage::Development, Stage::Production) => "; promote it to staging first",
            (a, b) if a == b => "; it is already there",
            _ => "",
        };
        Err(TrackError::Invalid(format!(
            "{what} is in {} and cannot move to {}: from {} a version may move to {}{hint}",
            self.name(),
            to.name(),
            self.name(),
            allowed.join(" or ")
        )))
    }
}

/// A registered model (MLflow's `RegisteredModel`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegisteredModel {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Creation time, ms since the epoch.
    pub creation_time: i64,
    /// Last change to the model or one of its versions, ms since the epoch.
    pub last_updated_time: i64,
    /// Who created it.
    pub user_id: String,
    /// Tags, by key.
    pub tags: Vec<(String, String)>,
    /// Aliases and the version each points at, by alias.
    pub aliases: Vec<(String, u32)>,
}

/// A model version (MLflow's `ModelVersion`, plus `semver`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelVersion {
    /// The registered model.
    pub name: String,
    /// Version number, from 1; never reused.
    pub version: u32,
    /// Semantic version `X.Y.Z`, if one was given.
    pub semver: Option<String>,
    /// The run the model came from (empty: MLflow allows a version whose source names no
    /// run).
    pub source_run_id: String,
    /// Where the model's files are, as the registering client named them (MLflow's
    /// `source`: `runs:/<run_id>/model`, `models:/<model_id>`, `mlflow-artifacts:/...`).
    pub source: String,
    /// A free link to the run that produced it (MLflow's `run_link`).
    pub run_link: String,
    /// The MLflow 3 logged model it was registered from (empty: none).
    pub model_id: String,
    /// Where the files are, resolved by the store's owner (never taken from a client): what
    /// MLflow's `get-download-uri` answers, an `mlflow-artifacts:/` URI.
    pub storage_location: String,
    /// MLflow's registration status (`READY`: hone registers synchronously).
    pub status: String,
    /// Current stage.
    pub current_stage: Stage,
    /// Free text.
    pub description: String,
    /// Who registered it.
    pub user_id: String,
    /// Creation time, ms since the epoch.
    pub creation_time: i64,
    /// Last change, ms since the epoch.
    pub last_updated_time: i64,
    /// Tags, by key.
    pub tags: Vec<(String, String)>,
    /// Aliases pointing at this version.
    pub aliases: Vec<String>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Increasing id: entries are in commit order of their transactions.
    pub id: i64,
    /// The registered model.
    pub name: String,
    /// The version, when the action concerns one.
    pub version: Option<u32>,
    /// What happened. The store writes `create_model`, `delete_model`, `create_version`,
    /// `delete_version`, `transition_stage`, `set_alias` and `delete_alias`; callers append
    /// their own events ([`Registry::append_event`]), such as `register`, `note` and
    /// `evaluation`.
    pub action: String,
    /// The value before (a stage, or the version an alias pointed at), if any.
    pub from: Option<String>,
    /// The value after, if any.
    pub to: Option<String>,
    /// Who did it.
    pub user_id: String,
    /// When, ms since the epoch.
    pub time: i64,
    /// Why (free text; empty when none was given).
    pub reason: String,
    /// Structured detail as JSON text (empty when none): what a promotion checked, what an
    /// evaluation measured.
    pub details: String,
}

/// The actions only the store itself writes to the audit log: [`Registry::append_event`]
/// refuses them, so an entry with one of these actions always records a real change.
pub const STORE_ACTIONS: &[&str] = &[
    "create_model",
    "rename_model",
    "delete_model",
    "create_version",
    "delete_version",
    "transition_stage",
    "set_alias",
    "delete_alias",
];

/// An event a caller appends to a model's audit log ([`Registry::append_event`]).
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// The registered model (must exist).
    pub name: &'a str,
    /// The version it concerns (must exist and not be deleted), if any.
    pub version: Option<u32>,
    /// What happened (`[a-z_]+`, not one of [`STORE_ACTIONS`]).
    pub action: &'a str,
    /// Who (the audit log's user).
    pub user: &'a str,
    /// Free text.
    pub reason: &'a str,
    /// JSON text, or empty.
    pub details: &'a str,
}

/// A new model version for [`Registry::create_model_version`]. Build one with
/// [`NewModelVersion::from_run`] and set the optional fields by name.
#[derive(Debug, Clone)]
pub struct NewModelVersion<'a> {
    /// The registered model (must exist).
    pub name: &'a str,
    /// The run the model came from; it must exist. Empty: no run (MLflow allows a source
    /// without one).
    pub run_id: &'a str,
    /// Semantic version `X.Y.Z`, if any.
    pub semver: Option<&'a str>,
    /// Tags of the version.
    pub tags: &'a [(String, String)],
    /// MLflow's `source`; `None`: `runs:/<run_id>`.
    pub source: Option<&'a str>,
    /// MLflow's `run_link` (free text).
    pub run_link: &'a str,
    /// Description (truncated to [`MAX_DESCRIPTION`]).
    pub description: &'a str,
    /// The MLflow 3 logged model, or empty.
    pub model_id: &'a str,
    /// The resolved storage location; `None`: the run's artifact root
    /// ([`run_artifact_uri`]). Callers derive it themselves; a client's text never goes here.
    pub storage_location: Option<&'a str>,
    /// Who registers it (audit log, `user_id`); `None`: the process's user.
    pub user: Option<&'a str>,
}

impl<'a> NewModelVersion<'a> {
    /// A version of `name` from run `run_id`, with source `runs:/<run_id>`, stored at the run's
    /// artifacts, and nothing else set.
    pub fn from_run(
        name: &'a str,
        run_id: &'a str,
        semver: Option<&'a str>,
        tags: &'a [(String, String)],
    ) -> Self {
        Self {
            name,
            run_id,
            semver,
            tags,
            source: None,
            run_link: "",
            description: "",
            model_id: "",
            storage_location: None,
            user: None,
        }
    }
}

/// The `mlflow-artifacts:/` URI of a run's artifact root, the form `hone server` serves and
/// the storage location of a version registered from a run.
pub fn run_artifact_uri(experiment_id: &str, run_id: &str) -> String {
    format!("mlflow-artifacts:/{experiment_id}/{run_id}/artifacts")
}

/// The stages a version walks through to get from `from` to `to`, each step one the matrix
/// allows ([`Stage::allowed_next`]), shortest first, never passing through production on the
/// way to another stage (that would displace the production version). Empty when `from ==
/// to`; `None` when there is no such path.
pub fn stage_path(from: Stage, to: Stage) -> Option<Vec<Stage>> {
    if from == to {
        return Some(Vec::new());
    }
    // Breadth-first over five stages: the first path found is a shortest one.
    let mut paths: Vec<Vec<Stage>> = vec![vec![from]];
    let mut seen = vec![from];
    while !paths.is_empty() {
        let mut next = Vec::new();
        for path in &paths {
            let Some(&last) = path.last() else { continue };
            for &s in last.allowed_next() {
                if seen.contains(&s) || (s == Stage::Production && to != Stage::Production) {
                    continue;
                }
                seen.push(s);
                let mut p = path.clone();
                p.push(s);
                if s == to {
                    p.remove(0);
                    return Some(p);
                }
                next.push(p);
            }
        }
        paths = next;
    }
    None
}

/// A stage change request for [`Registry::transition_stage`].
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    /// The registered model.
    pub name: &'a str,
    /// The version to move.
    pub version: u32,
    /// The stage to move it to.
    pub to: Stage,
    /// What the caller believes the model's current production version is (the highest
    /// version in Production; `None`: no version is in Production). When the store disagrees
    /// the change is refused with [`TrackError::Conflict`]: production moved meanwhile.
    pub expected_current_production: Option<u32>,
    /// MLflow's `archive_existing_versions`: move the model's other versions in stage `to` to
    /// archived (only for staging and production). Without it, other staging versions stay,
    /// and a production version being replaced moves to deprecated: hone keeps one production
    /// version, so that `NAME@production` has one meaning.
    pub archive_existing: bool,
    /// Who makes the change (audit log).
    pub user: &'a str,
    /// Why (audit log).
    pub reason: &'a str,
    /// JSON text recorded with the change in the audit log (what a promotion checked, whether
    /// it was forced), or empty.
    pub details: &'a str,
}

/// MLflow's model registry over the tracking store. Both backends implement it with the same
/// behaviour (one shared test suite).
pub trait Registry: Send + Sync {
    /// Creates a registered model; its name must be unique ([`TrackError::AlreadyExists`]).
    /// The audit log names the process's user ([`Registry::create_registered_model_as`]
    /// names another).
    fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[(String, String)],
    ) -> Result<RegisteredModel> {
        self.create_registered_model_as(name, description, tags, &current_user())
    }
    /// [`Registry::create_registered_model`] on behalf of `user` (its `user_id` and the
    /// audit log's).
    fn create_registered_model_as(
        &self,
        name: &str,
        description: &str,
        tags: &[(String, String)],
        user: &str,
    ) -> Result<RegisteredModel>;
    /// A registered model by name.
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel>;
    /// Registered models whose name starts with `prefix` (empty: all), by name.
    fn list_registered_models(&self, prefix: &str) -> Result<Vec<RegisteredModel>>;
    /// Deletes a registered model with its versions, tags and aliases (MLflow's semantics);
    /// the audit log keeps its entries.
    fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.delete_registered_model_as(name, &current_user())
    }
    /// [`Registry::delete_registered_model`] on behalf of `user` (audit log).
    fn delete_registered_model_as(&self, name: &str, user: &str) -> Result<()>;
    /// Sets a tag of a registered model (last write wins).
    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()>;
    /// Removes a tag of a registered model; a missing tag is [`TrackError::NotFound`].
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()>;
    /// Renames a registered model, with its versions, tags and aliases; the new name must be
    /// free ([`TrackError::AlreadyExists`]). The audit log keeps the entries under the old
    /// name and gets a `rename_model` entry under both names, by `user`.
    fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        user: &str,
    ) -> Result<RegisteredModel>;
    /// Replaces a registered model's description (truncated to [`MAX_DESCRIPTION`]).
    fn update_registered_model_description(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel>;
    /// Registers a new version (see [`NewModelVersion`]): the next number, allocated
    /// atomically (concurrent callers get distinct, gap-free numbers). `semver`, when given,
    /// must be `X.Y.Z` and greater than every semver of the model, deleted versions included.
    fn create_model_version(&self, v: &NewModelVersion<'_>) -> Result<ModelVersion>;
    /// Replaces a version's description (truncated to [`MAX_DESCRIPTION`]).
    fn update_model_version_description(
        &self,
        name: &str,
        version: u32,
        description: &str,
    ) -> Result<ModelVersion>;
    /// A version by number (deleted versions are not found).
    fn get_model_version(&self, name: &str, version: u32) -> Result<ModelVersion>;
    /// A version by semver.
    fn get_model_version_by_semver(&self, name: &str, semver: &str) -> Result<ModelVersion>;
    /// The version an alias points at.
    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion>;
    /// The model's versions (not deleted), by number.
    fn list_model_versions(&self, name: &str) -> Result<Vec<ModelVersion>>;
    /// Every live version of every model, by model then number (what a registry search
    /// filters).
    fn all_model_versions(&self) -> Result<Vec<ModelVersion>>;
    /// Sets a tag of a version (last write wins).
    fn set_model_version_tag(&self, name: &str, version: u32, key: &str, value: &str)
    -> Result<()>;
    /// Removes a tag of a version; a missing tag is [`TrackError::NotFound`].
    fn delete_model_version_tag(&self, name: &str, version: u32, key: &str) -> Result<()>;
    /// Points `alias` at `version`, moving it if it pointed elsewhere (MLflow's alias rules:
    /// `[A-Za-z0-9_-]`, at most 255 characters, `latest` and `v<digits>` reserved).
    /// [`PRODUCTION_ALIAS`] is refused: it follows the production stage.
    fn set_alias(&self, name: &str, alias: &str, version: u32) -> Result<()> {
        self.set_alias_as(name, alias, version, &current_user())
    }
    /// [`Registry::set_alias`] on behalf of `user` (audit log).
    fn set_alias_as(&self, name: &str, alias: &str, version: u32, user: &str) -> Result<()>;
    /// Removes an alias; a missing one is [`TrackError::NotFound`], [`PRODUCTION_ALIAS`] is
    /// refused.
    fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.delete_alias_as(name, alias, &current_user())
    }
    /// [`Registry::delete_alias`] on behalf of `user` (audit log).
    fn delete_alias_as(&self, name: &str, alias: &str, user: &str) -> Result<()>;
    /// Moves a version to another stage as a compare-and-set on the model's production
    /// version (see [`Transition`]). The move must be one the matrix allows
    /// ([`Stage::allowed_next`]). A move into production displaces the previous production
    /// version (to deprecated, or archived with `archive_existing`) and points
    /// [`PRODUCTION_ALIAS`] at the new one; a move out of production removes the alias. Every
    /// change is written to the audit log in the same transaction. Returns the moved version.
    fn transition_stage(&self, t: &Transition<'_>) -> Result<ModelVersion>;
    /// MLflow's `transition-stage`: moves a version to `t.to` along [`stage_path`], one
    /// audited [`Registry::transition_stage`] step after another in one transaction (so
    /// `None` → `Production` is `None` → `Staging` → `Production`), with
    /// `t.archive_existing` applied to the last step. `t.expected_current_production` is
    /// ignored: MLflow's call has no expectation, and the steps read the production version
    /// under the model's lock. A version already in `t.to` is returned unchanged.
    fn transition_stage_by_path(&self, t: &Transition<'_>) -> Result<ModelVersion>;
    /// Appends a caller's event (a registration summary, a note, an evaluation) to the audit
    /// log; the model (and version, if named) must exist. Returns the entry written.
    fn append_event(&self, e: &NewEvent<'_>) -> Result<AuditEntry>;
    /// Deletes a version (its number is never given out again). Refused with
    /// [`TrackError::Conflict`] naming the alias while an alias points at it.
    fn delete_model_version(&self, name: &str, version: u32) -> Result<()> {
        self.delete_model_version_as(name, version, &current_user())
    }
    /// [`Registry::delete_model_version`] on behalf of `user` (audit log).
    fn delete_model_version_as(&self, name: &str, version: u32, user: &str) -> Result<()>;
    /// The model's audit log, oldest first (also after the model was deleted).
    fn audit_log(&self, name: &str) -> Result<Vec<AuditEntry>>;
    /// The live versions (any model) registered from `run_id`: a run they pin must not be
    /// purged.
    fn versions_referencing_run(&self, run_id: &str) -> Result<Vec<ModelVersion>>;
}

/// Checks a registered-model name: not empty, at most [`MAX_MODEL_NAME`] characters, no
/// control characters (names are printed in tables and messages).
pub fn validate_model_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(TrackError::Invalid(format!(
            "invalid registered model name {name:?}: {why}"
        )))
    };
    if name.trim().is_empty() {
        return bad("empty");
    }
    if name.chars().count() > MAX_MODEL_NAME {
        return bad("longer than 256 characters");
    }
    if name.chars().any(char::is_control) {
        return bad("control characters are not allowed");
    }
    // MLflow refuses `/` and `:` (they separate parts of `models:/NAME/VERSION` URIs); `@`
    // separates an alias in `NAME@alias`.
    if let Some(c) = name.chars().find(|c| matches!(c, '/' | ':' | '@')) {
        return bad(&format!(
            "{c:?} is not allowed (it separates the parts of a model reference such as \
             models:/NAME/3 or NAME@alias)"
        ));
    }
    Ok(())
}

/// Checks an alias the way MLflow does: `[A-Za-z0-9_-]`, 1 to 255 characters, and neither
/// `latest` nor `v<digits>` (reserved: they name versions), case-insensitively.
pub fn validate_alias(alias: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(TrackError::Invalid(format!(
            "invalid alias {alias:?}: {why}"
        )))
    };
    if alias.is_empty() {
        return bad("empty");
    }
    if alias.len() > MAX_ALIAS {
        return bad("longer than 255 characters");
    }
    if !alias
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return bad("only letters, digits, '_' and '-' are allowed");
    }
    let lower = alias.to_ascii_lowercase();
    let version_like =
        lower.len() > 1 && lower.starts_with('v') && lower[1..].chars().all(|c| c.is_ascii_digit());
    if lower == "latest" || version_like {
        return bad("'latest' and 'v<number>' are reserved");
    }
    Ok(())
}

/// Checks an alias a user sets or deletes: [`validate_alias`], and not [`PRODUCTION_ALIAS`]
/// (any case), which only stage changes move.
pub fn validate_user_alias(alias: &str) -> Result<()> {
    validate_alias(alias)?;
    if alias.eq_ignore_ascii_case(PRODUCTION_ALIAS) {
        return Err(TrackError::Invalid(format!(
            "alias {alias:?} follows the production stage and is moved only by `hone models \
             promote --stage production` and `hone models rollback`"
        )));
    }
    Ok(())
}

/// Checks an event action of [`Registry::append_event`]: `[a-z_]+`, at most 64 characters, not
/// one of [`STORE_ACTIONS`].
pub fn validate_event_action(action: &str) -> Result<()> {
    if action.is_empty()
        || action.len() > 64
        || !action.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    {
        return Err(TrackError::Invalid(format!(
            "invalid registry event {action:?}: expected lowercase letters and '_'"
        )));
    }
    if STORE_ACTIONS.contains(&action) {
        return Err(TrackError::Invalid(format!(
            "registry event {action:?} is written only by the store itself"
        )));
    }
    Ok(())
}

/// Parses a semantic version `X.Y.Z` (decimal numbers without leading zeros, as SemVer 2.0
/// requires; no pre-release or build suffix).
pub fn parse_semver(s: &str) -> Result<(u64, u64, u64)> {
    let bad = || {
        TrackError::Invalid(format!(
            "invalid semver {s:?}: expected MAJOR.MINOR.PATCH such as 1.4.0"
        ))
    };
    let mut parts = s.split('.').map(|p| {
        let digits = !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
        let leading_zero = p.len() > 1 && p.starts_with('0');
        if !digits || leading_zero {
            return Err(bad());
        }
        p.parse::<u64>().map_err(|_| bad())
    });
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok((a?, b?, c?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semvers_are_three_plain_numbers() {
        assert_eq!(parse_semver("1.20.3").unwrap(), (1, 20, 3));
        assert_eq!(parse_semver("0.0.0").unwrap(), (0, 0, 0));
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "1.02.3",
            "a.b.c",
            "1.2.3-rc1",
            "1..3",
            " 1.2.3",
        ] {
            let e = parse_semver(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid semver"), "{bad}: {e}");
        }
        assert!(parse_semver("99999999999999999999.0.0").is_err());
    }

    #[test]
    fn aliases_follow_mlflow_rules() {
        for ok in ["champion", "Prod_1", "a-b", "v", "vx1", &"a".repeat(255)] {
            validate_alias(ok).unwrap();
        }
        for bad in [
            "",
            "latest",
            "LATEST",
            "v1",
            "V12",
            "a b",
            "a.b",
            "é",
            &"a".repeat(256),
        ] {
            assert!(validate_alias(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stages_parse_case_insensitively() {
        assert_eq!(Stage::parse("production").unwrap(), Stage::Production);
        assert_eq!(Stage::parse("None").unwrap(), Stage::Development);
        assert_eq!(Stage::parse("Development").unwrap(), Stage::Development);
        assert!(Stage::parse("prod").is_err());
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()).unwrap(), s);
            assert_eq!(Stage::parse(s.name()).unwrap(), s);
        }
    }

    #[test]
    fn the_transition_matrix_is_explicit() {
        use Stage::*;
        let allowed: Vec<(Stage, Stage)> = Stage::ALL
            .iter()
            .flat_map(|a| Stage::ALL.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.check_move(*b, "version 1").is_ok())
            .collect();
        assert_eq!(
            allowed,
            [
                (Development, Staging),
                (Development, Archived),
                (Staging, Development),
                (Staging, Production),
                (Staging, Archived),
                (Production, Deprecated),
                (Production, Archived),
                (Deprecated, Production),
                (Deprecated, Archived),
                (Archived, Development),
            ]
        );
        let e = Development
            .check_move(Production, "version 3 of m")
            .unwrap_err()
            .to_string();
        assert!(e.contains("promote it to staging first"), "{e}");
        let e = Staging.check_move(Staging, "v").unwrap_err().to_string();
        assert!(e.contains("already there"), "{e}");
    }

    #[test]
    fn stage_paths_follow_the_matrix_and_avoid_production() {
        use Stage::*;
        assert_eq!(
            stage_path(Development, Production).unwrap(),
            [Staging, Production]
        );
        assert_eq!(stage_path(Staging, Production).unwrap(), [Production]);
        assert_eq!(stage_path(Deprecated, Production).unwrap(), [Production]);
        assert_eq!(
            stage_path(Archived, Production).unwrap(),
            [Development, Staging, Production]
        );
        assert_eq!(
            stage_path(Production, Development).unwrap(),
            [Archived, Development]
        );
        assert_eq!(
            stage_path(Deprecated, Staging).unwrap(),
            [Archived, Development, Staging]
        );
        assert!(stage_path(Staging, Staging).unwrap().is_empty());
        for from in Stage::ALL {
            for to in Stage::ALL {
                let Some(path) = stage_path(from, to) else {
                    continue;
                };
                let mut at = from;
                for (i, s) in path.iter().enumerate() {
                    at.check_move(*s, "v").unwrap();
                    assert!(*s != Production || i + 1 == path.len(), "{from:?}->{to:?}");
                    at = *s;
                }
                assert_eq!(at, to);
            }
        }
        // Deprecated is reached only through production.
        assert!(stage_path(Development, Deprecated).is_none());
    }

    #[test]
    fn the_production_alias_and_store_actions_are_reserved() {
        assert!(validate_user_alias("Production").is_err());
        validate_user_alias("champion").unwrap();
        validate_event_action("note").unwrap();
        for bad in ["", "set_alias", "Note", "a b"] {
            assert!(validate_event_action(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn model_names_must_be_printable_and_bounded() {
        validate_model_name("btc-momentum").unwrap();
        assert!(validate_model_name("").is_err());
        assert!(validate_model_name("a\nb").is_err());
        assert!(validate_model_name(&"x".repeat(257)).is_err());
        for bad in ["team/m", "a:b", "m@prod"] {
            let e = validate_model_name(bad).unwrap_err().to_string();
            assert!(e.contains("is not allowed"), "{e}");
        }
    }
}
