//! Every tag and metric key hone itself writes, one meaning per key.
//!
//! Users filter runs by these (`tags.hone.trial.state = 'COMPLETE'`), MLflow clients show them,
//! and several processes read what others wrote: they are a file format. Write and read them
//! only through these constants. MLflow's own keys (`mlflow.*`) are MLflow's and appear where
//! MLflow defines them.

/// The prefix of every `hone.*` key below: tags under it are written by hone, and only
/// [`KEEP`] may also be set by hand (`hone runs tag`).
pub const PREFIX: &str = "hone.";

// Environment of the process that started a run (`env::capture`).
/// Run tag: the hone version.
pub const VERSION: &str = "hone.version";
/// Run tag: the command line.
pub const COMMAND: &str = "hone.command";
/// Run tag: operating system and architecture.
pub const OS: &str = "hone.os";
/// Run tag: logical cores.
pub const CORES: &str = "hone.cores";
/// Run tag: CPU model.
pub const CPU: &str = "hone.cpu";
/// Run tag: memory, GB.
pub const MEMORY_GB: &str = "hone.memory_gb";
/// Run tag: whether the git work tree had uncommitted changes.
pub const GIT_DIRTY: &str = "hone.git.dirty";
/// Run tag: the GPUs `nvidia-smi -L` lists.
pub const GPU: &str = "hone.gpu";

// Training runs (`hone train`, `hone tune`'s refit).
/// Run tag: the config file.
pub const CONFIG: &str = "hone.config";
/// The queued job (`hone submit`) a run was produced by: its id.
pub const JOB_ID: &str = "hone.job_id";
/// Run tag: the dataset fingerprint (SHA-256 of schema and content).
pub const FINGERPRINT: &str = "hone.fingerprint";
/// Run tag: the output directory the run's files were written to.
pub const OUT_DIR: &str = "hone.out_dir";
/// Run tag: the quality gates' results (JSON).
pub const GATES: &str = "hone.gates";
/// Run tag: whether every quality gate passed.
pub const GATES_PASSED: &str = "hone.gates.passed";
/// Run tag: why the job failed.
pub const ERROR: &str = "hone.error";
/// Run tag on a fold's child run: the fold number (or `final`).
pub const FOLD: &str = "hone.fold";
/// Run tag: the `--set KEY=VALUE` overrides the job's config was run with (JSON list of
/// `KEY=VALUE` strings; absent when there were none).
pub const OVERRIDES: &str = "hone.overrides";
/// Run tag: `true` protects the run from retention.
pub const KEEP: &str = "hone.keep";

// Studies (`hone tune`, `hone study`).
/// Experiment tag: the study's definition (JSON); its presence makes the experiment a study.
pub const STUDY_DEF: &str = "hone.study";
/// Experiment tag prefix: `hone.space_revision.<n>` holds a study's space revision `n` (JSON,
/// `hone_tune::adapt::SpaceRevision`), written once by the worker that claimed `n`.
pub const SPACE_REVISION_PREFIX: &str = "hone.space_revision.";
/// Run tag on a trial, and on the run `hone tune` refits from a study: the study's name.
pub const STUDY_NAME: &str = "hone.study.name";
/// Run tag on the run `hone tune` refits: warnings about the search itself (JSON list), e.g.
/// searched parameters that change the label, which make trials incomparable.
pub const STUDY_WARNINGS: &str = "hone.study.warnings";
/// Run tag on the run `hone tune` refits: the trial number it refit.
pub const STUDY_BEST_TRIAL: &str = "hone.study.best_trial";
/// Run tag: the trial record (state, internal params, values, intermediate values; JSON). The
/// store's reaper rewrites it for trials whose owner died.
pub const TRIAL_RECORD: &str = "hone.trial";
/// Run tag: the trial state (searchable: `tags.hone.trial.state = 'COMPLETE'`).
pub const TRIAL_STATE: &str = "hone.trial.state";
/// Run tag: how long the trial ran, ms.
pub const TRIAL_DURATION_MS: &str = "hone.trial.duration_ms";
/// Metric: the trial number (new trials are found with one indexed search on it).
pub const TRIAL_NUMBER: &str = "hone.trial_number";
/// Metric: a trial's intermediate values, by step.
pub const INTERMEDIATE: &str = "intermediate";

// Model registry (`hone models register`): lineage copied onto a model version from its run.
/// The prefix of every lineage tag below (what `hone models show` lists as lineage).
pub const LINEAGE_PREFIX: &str = "hone.lineage.";
/// Model-version tag: the dataset fingerprint of the source run ([`FINGERPRINT`]).
pub const LINEAGE_FINGERPRINT: &str = "hone.lineage.fingerprint";
/// Model-version tag: where the training data came from (the run's `train` input's source).
pub const LINEAGE_DATASET: &str = "hone.lineage.dataset";
/// Model-version tag: the digest of the rows the model was developed on (the `train` input).
pub const LINEAGE_DATASET_DIGEST: &str = "hone.lineage.dataset_digest";
/// Model-version tag: SHA-256 of the run's `config.toml` artifact (the config as run).
pub const LINEAGE_CONFIG_SHA256: &str = "hone.lineage.config_sha256";
/// Model-version tag: SHA-256 of the run's model files (`model.json` and `pipeline/*`, each
/// as `path sha256` on its own line, by path).
pub const LINEAGE_MODEL_SHA256: &str = "hone.lineage.model_sha256";
/// Model-version tag: the hone version that trained the run ([`VERSION`]).
pub const LINEAGE_HONE_VERSION: &str = "hone.lineage.hone_version";
/// Model-version tag: the model's features (JSON list), from the `train` input's schema.
pub const LINEAGE_FEATURES: &str = "hone.lineage.features";
/// Model-version tag: the first timestamp of the rows the model was developed on.
pub const LINEAGE_FIRST_ROW: &str = "hone.lineage.first_row";
/// Model-version tag: the last timestamp of the rows the model was developed on.
pub const LINEAGE_LAST_ROW: &str = "hone.lineage.last_row";
/// Model-version tag: how many rows the model was developed on.
pub const LINEAGE_ROWS: &str = "hone.lineage.rows";
/// Model-version tag: the task (`binary`, `multiclass`, `regression`).
pub const LINEAGE_TASK: &str = "hone.lineage.task";
/// Model-version tag: the git commit of the directory `hone train` ran in (`unknown` outside
/// a git checkout).
pub const LINEAGE_GIT_COMMIT: &str = "hone.lineage.git_commit";
/// Model-version tag: whether that checkout had uncommitted changes (`true`, `false`,
/// `unknown`).
pub const LINEAGE_GIT_DIRTY: &str = "hone.lineage.git_dirty";
/// Model-version tag: versions of hone and the libraries that trained the model (JSON object),
/// from the run's [`DEPENDENCIES`].
pub const LINEAGE_DEPENDENCIES: &str = "hone.lineage.dependencies";
/// Model-version tag: the parent version's number (the production version when this one was
/// registered, or `--parent`); absent for a first version.
pub const LINEAGE_PARENT: &str = "hone.lineage.parent";
/// Pseudo-tag (never stored) that the retention query adds to a run a live model version was
/// registered from: `NAME/VERSION`. Retention never selects such a run.
pub const PINNED_BY: &str = "hone.pinned_by";
/// Run tag: versions of hone and the libraries that trained the run (JSON object:
/// `hone`, `lightgbm`, `lightgbm3-sys`).
pub const DEPENDENCIES: &str = "hone.dependencies";
/// Model-version tag: the text given with `--description` when the version was registered.
pub const REGISTRY_DESCRIPTION: &str = "hone.registry.description";
