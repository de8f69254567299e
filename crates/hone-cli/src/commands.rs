//! The subcommands: argument definitions and what each one does.

use std::path::{Path, PathBuf};

use clap::Args;
use hone_validate::split::{Fold, SplitInput};
use serde_json::{Value, json};

use crate::CliError;
use crate::progress::TrainProgress;
use crate::render;

/// `hone train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The job's config file (TOML).
    pub config: PathBuf,
    /// Output directory: new or empty (default: runs/<name>-<UTC timestamp>-<run id[..8]>, a
    /// random suffix with --no-track; never an existing one).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the contents of a non-empty --out that holds an earlier hone output (never the
    /// file system root, the home directory, or the current directory or a folder above it).
    /// The earlier files are deleted only once the job has succeeded.
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    /// Print the full report as JSON on stdout (progress lines are not printed).
    #[arg(long)]
    pub json: bool,
    /// Do not record the job in the tracking store.
    #[arg(long)]
    pub no_track: bool,
    /// Override a config key before the config is checked (repeatable): KEY=VALUE, the value
    /// read as TOML (a bare word is a string), e.g. --set model.params.learning_rate=0.1.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Write no output folder: the files go to the tracking store only, as the run's artifacts
    /// (`hone evaluate RUN_ID` and `hone predict --model RUN_ID` read them from there).
    #[arg(long, conflicts_with_all = ["out", "overwrite"])]
    pub no_outputs: bool,
    /// After a successful tracked run that passed its hard gates, register the run as a new
    /// version of this model (as `hone models register RUN_ID --name NAME`).
    #[arg(long, value_name = "NAME", conflicts_with = "no_track")]
    pub register: Option<String>,
    #[command(flatten)]
    pub store: crate::tracking::StoreArgs,
}

/// `--no-outputs` with `--no-track` would keep the results nowhere.
pub(crate) fn check_no_outputs(no_outputs: bool, no_track: bool) -> Result<(), CliError> {
    if no_outputs && no_track {
        return Err(CliError::usage(
            "--no-outputs needs the tracking store (the files would be kept nowhere): drop \
             --no-track, or --no-outputs",
        ));
    }
    Ok(())
}

/// `hone split`.
#[derive(Args, Debug)]
pub struct SplitArgs {
    /// A training config: show the folds `hone train` would use on its data.
    pub config: Option<PathBuf>,
    /// Scheme (instead of a config): timeseries, kfold, stratified_kfold, purged_kfold, cpcv,
    /// walk_forward or monte_carlo.
    #[arg(long)]
    pub scheme: Option<String>,
    /// Number of samples to split (with --scheme; at most 10⁹).
    #[arg(long)]
    pub n_samples: Option<usize>,
    /// Number of folds (timeseries, kfold, stratified_kfold, purged_kfold) or random splits
    /// (monte_carlo) [default: 5].
    #[arg(long)]
    pub n_splits: Option<usize>,
    /// Rows removed between training and test (timeseries, walk_forward) [default: 0].
    #[arg(long)]
    pub gap: Option<usize>,
    /// Cap on training window length (timeseries).
    #[arg(long)]
    pub max_train_size: Option<usize>,
    /// Test length: rows (timeseries, walk_forward) or a share in (0, 1) / a whole count
    /// (monte_carlo).
    #[arg(long, allow_hyphen_values = true)]
    pub test_size: Option<f64>,
    /// Training window length (walk_forward).
    #[arg(long)]
    pub train_size: Option<usize>,
    /// Advance between walk-forward splits [default: test size].
    #[arg(long)]
    pub step: Option<usize>,
    /// Expanding (anchored) walk-forward windows.
    #[arg(long)]
    pub anchored: bool,
    /// Bars each label looks ahead: sample i's label ends at i + H (purged_kfold, cpcv,
    /// monte_carlo --temporal) [default: 0].
    #[arg(long)]
    pub label_horizon: Option<usize>,
    /// Embargo after each test block, as a share of the samples in [0, 1) (purged_kfold, cpcv,
    /// monte_carlo --temporal).
    #[arg(long, allow_hyphen_values = true)]
    pub embargo_pct: Option<f64>,
    /// Groups N (cpcv) [default: 6].
    #[arg(long)]
    pub n_groups: Option<usize>,
    /// Test groups per split k (cpcv) [default: 2].
    #[arg(long)]
    pub n_test_groups: Option<usize>,
    /// Fixed purge count instead of label-driven purging (cpcv, as skfolio).
    #[arg(long)]
    pub purged_size: Option<usize>,
    /// Fixed embargo count (cpcv, with --purged-size).
    #[arg(long)]
    pub embargo_size: Option<usize>,
    /// Random contiguous purged test blocks instead of random rows (monte_carlo).
    #[arg(long)]
    pub temporal: bool,
    /// Shuffle before splitting (kfold, stratified_kfold).
    #[arg(long)]
    pub shuffle: bool,
    /// Seed of shuffles and random splits [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// CSV with one column of class labels (stratified_kfold).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Print JSON: {"n_samples": N, "folds": [{"train": [...], "test": [...]}]} (cpcv adds
    /// "paths": the backtest path of each test group of each split).
    #[arg(long)]
    pub json: bool,
    /// With a config: override a config key before it is checked (repeatable): KEY=VALUE,
    /// e.g. --set split.n_splits=3.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `hone metrics`.
#[derive(Args, Debug)]
pub struct MetricsArgs {
    /// binary, multiclass or regression.
    #[arg(long)]
    pub task: String,
    /// CSV with `y_true` and `y_score` (binary), `proba_<class>` columns (multiclass) and/or `y_pred`.
    #[arg(long)]
    pub input: PathBuf,
    /// Print JSON keyed by scikit-learn's metric names.
    #[arg(long)]
    pub json: bool,
}

/// `hone predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A `hone train` output directory, or the id of a tracked run (its model is read from the
    /// store's artifacts when the run wrote no folder).
    #[arg(long)]
    pub model: String,
    /// Data file (CSV or Parquet) with the columns the model was trained on.
    #[arg(long)]
    pub data: PathBuf,
    /// Write predictions here (CSV) instead of stdout; an existing file needs --overwrite.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    /// Print a JSON summary (with --out) or the predictions as JSON records.
    #[arg(long)]
    pub json: bool,
    /// Panel models: score every timestamp, not only the latest cross-section.
    #[arg(long)]
    pub all_times: bool,
    #[command(flatten)]
    pub store: crate::tracking::StoreArgs,
}

pub(crate) fn utc_stamp() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    crate::render::ms_to_utc(ms)
        .replace(['-', ':'], "")
        .replace(' ', "-")
}

/// `--out` as a usage error naming the flag and the path (`hint`: how to get past a refusal).
fn out_error(e: hone_train::output::OutDirError, hint: &str) -> CliError {
    use hone_train::output::OutDirError;
    let hint = match e {
        OutDirError::NotEmpty { .. } | OutDirError::AlreadyExists { .. } => hint,
        _ => "",
    };
    CliError::usage(format!("--out {e}{hint}"))
}

/// A new directory `runs/<name>-<UTC timestamp>-<tag>[-k]` for a job without `--out`
/// ([`hone_train::output::OutDir::claim_default`]): `tag` is the first 8 characters of the
/// tracked run's id (the folder names its run), or random ones for an untracked job, so that
/// jobs started in the same second never even race for one name.
fn claim_default_out(
    name: &str,
    run_id: Option<&str>,
) -> Result<hone_train::output::OutDir, CliError> {
    let random;
    let id = match run_id {
        Some(id) => id,
        None => {
            random = hone_track::store::new_run_id();
            &random
        }
    };
    let tag: String = id.chars().take(8).collect();
    let stamp = format!("{}-{tag}", utc_stamp());
    hone_train::output::OutDir::claim_default(Path::new("runs"), name, &stamp).map_err(|e| {
        CliError::usage(format!(
            "default output directory: {e} (choose one with --out)"
        ))
    })
}

/// Claims a job's output directory: `--out` (refused when it is a file, non-empty without
/// `overwrite`, or not writable), or a new default one named with `run_id`. `hint` tells how to
/// get past a non-empty `--out`.
pub(crate) fn claim_out(
    out: Option<&Path>,
    name: &str,
    run_id: Option<&str>,
    overwrite: bool,
    hint: &str,
) -> Result<hone_train::output::OutDir, CliError> {
    match out {
        Some(dir) => hone_train::output::OutDir::claim(dir, overwrite).map_err(|e| {
            // Say whose outputs are in the way: another tracked run's folder is never taken
            // without --overwrite.
            let owner = hone_train::tracking::run_of_dir(dir)
                .filter(|_| matches!(e, hone_train::output::OutDirError::NotEmpty { .. }));
            match owner {
                Some(owner) => {
                    out_error(e, &format!(" (it holds the outputs of run {owner}){hint}"))
                }
                None => out_error(e, hint),
            }
        }),
        None => claim_default_out(name, run_id),
    }
}

/// How to get past `hone tune --out` on a non-empty directory (tune has no `--overwrite`).
pub(crate) const FRESH_HINT: &str = " (choose an empty or new directory)";

/// Checks `hone tune --out` before the search (the refit claims it afterwards), so that a bad
/// path fails before hours of trials rather than after them.
pub(crate) fn check_refit_out(out: Option<&Path>, no_refit: bool) -> Result<(), CliError> {
    match out {
        Some(dir) if !no_refit => {
            hone_train::output::check_out_dir(dir, false).map_err(|e| out_error(e, FRESH_HINT))
        }
        _ => Ok(()),
    }
}

/// How to get past `hone train --out` on a non-empty directory.
const OVERWRITE_HINT: &str = " (pass --overwrite to replace its contents, or choose another)";

/// Reads a training config with the `--set KEY=VALUE` overrides of the command line
/// ([`hone_train::config::load_with`]); a malformed override is a usage error naming the flag.
pub(crate) fn load_config(
    path: &Path,
    set: &[String],
) -> Result<hone_train::LoadedConfig, CliError> {
    let overrides = set
        .iter()
        .map(|s| hone_train::config::Override::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(hone_train::config::load_with(path, &overrides)?)
}

pub fn train(args: TrainArgs) -> Result<(), CliError> {
    check_no_outputs(args.no_outputs, args.no_track)?;
    let cfg = load_config(&args.config, &args.set)?;
    // --out is claimed before training: a bad one fails at once; a failed job leaves it as it
    // was. A default directory is claimed once the tracked run exists, to carry its id.
    let mut explicit = match &args.out {
        Some(dir) => Some(claim_out(
            Some(dir),
            &cfg.name(),
            None,
            args.overwrite,
            OVERWRITE_HINT,
        )?),
        None => None,
    };
    let mut progress = TrainProgress::new(args.json);
    let (result, run_id) = if args.no_track {
        let out_dir = match explicit.take() {
            Some(dir) => dir,
            None => claim_default_out(&cfg.name(), None)?,
        };
        let result = hone_train::run_train(&cfg, out_dir.path(), &mut |e| progress.on_event(e));
        if result.is_ok() {
            out_dir.commit();
        }
        (result, None)
    } else {
        let loc = args.store.location()?;
        let tracker = hone_track::Tracker::open_uri(&loc.store_uri, &loc.artifacts)
            .map_err(crate::tracking::track_err)?;
        // Ctrl-C: flush what was logged, mark the job's runs KILLED, exit 130.
        let interrupt = tracker.interrupter();
        let _ = ctrlc::set_handler(move || {
            interrupt();
            eprintln!("\ninterrupted: runs marked KILLED, logged data flushed");
            std::process::exit(130);
        });
        let name = cfg.name();
        let mut claim = |run_id: &str| match explicit.take() {
            Some(dir) => Ok(dir),
            None => claim_default_out(&name, Some(run_id)).map_err(crate::tune::into_train_error),
        };
        let outputs = if args.no_outputs {
            hone_train::tracking::Outputs::None
        } else {
            hone_train::tracking::Outputs::Claim(&mut claim)
        };
        match hone_train::tracking::run_train_tracked_with(&cfg, outputs, &tracker, &[], &mut |e| {
            progress.on_event(e)
        }) {
            Ok((report, run_id)) => (Ok(report), Some((run_id, loc.store_uri))),
            Err(e) => (Err(e), None),
        }
    };
    progress.finish();
    let report = result?;
    let failed = hone_train::gates::failed_hard(&report.gates);
    // A run that failed a hard gate is not registered: the gate exists to stop that model.
    let registered = match (&args.register, &run_id) {
        (Some(name), Some((id, _))) if failed.is_empty() => {
            let (store, _) = args.store.open(hone_track::OpenMode::Create)?;
            let req = hone_train::registry::RegisterRequest {
                run_id: id,
                name,
                ..Default::default()
            };
            let r = hone_train::registry::register(store.as_ref(), &req).map_err(|e| {
                let mut err = crate::tracking::track_err(e);
                err.message = format!("run {id} was tracked but not registered: {}", err.message);
                err
            })?;
            Some(r.version)
        }
        _ => None,
    };
    if args.json {
        let mut v = serde_json::to_value(&report).map_err(|e| CliError::runtime(e.to_string()))?;
        if let Some((run_id, store)) = &run_id {
            v["run_id"] = json!(run_id);
            v["store"] = json!(store);
        }
        if let Some(r) = &registered {
            v["registered"] = json!({"name": r.name, "version": r.version, "semver": r.semver});
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| CliError::runtime(e.to_string()))?
        );
    } else {
        print!("{}", render::train_report(&report));
        if let Some((run_id, store)) = run_id {
            println!("tracked: run {run_id} in {store} (hone runs show {run_id})");
        }
        if let Some(r) = &registered {
            let semver = r.semver.as_deref().unwrap_or("-");
            println!(
                "registered {}/{} ({semver})",
                render::escape(&r.name),
                r.version
            );
        }
    }
    if !failed.is_empty() {
        let note = if args.register.is_some() {
            " (the run was not registered)"
        } else {
            ""
        };
        return Err(CliError {
            code: 3,
            message: format!("hard gate(s) failed: {}{note}", failed.join("; ")),
        });
    }
    Ok(())
}

fn folds_json(n: usize, folds: &[Fold]) -> Value {
    json!({
        "n_samples": n,
        "folds": folds.iter().map(|f| json!({"train": f.train, "test": f.test})).collect::<Vec<_>>(),
    })
}

pub fn split(args: SplitArgs) -> Result<(), CliError> {
    if let Some(config) = &args.config {
        if args.scheme.is_some() || args.n_samples.is_some() {
            return Err(CliError::usage(
                "give either a config file or --scheme/--n-samples, not both",
            ));
        }
        return split_config(config, &args.set, args.json);
    }
    if !args.set.is_empty() {
        return Err(CliError::usage(
            "--set overrides a config key: it needs a config file, not --scheme",
        ));
    }
    let scheme = args.scheme.as_deref().ok_or_else(|| {
        CliError::usage(
            "give a config file, or --scheme (kfold, stratified_kfold, timeseries) and --n-samples",
        )
    })?;
    let labels = args
        .labels
        .as_deref()
        .map(hone_train::analysis::read_labels)
        .transpose()?;
    let n = match (args.n_samples, &labels) {
        (Some(n), Some(l)) if n != l.len() => {
            return Err(CliError::usage(format!(
                "--n-samples {n} does not match the {} labels in --labels",
                l.len()
            )));
        }
        (Some(n), _) => n,
        (None, Some(l)) => l.len(),
        (None, None) => return Err(CliError::usage("--n-samples is required")),
    };
    let spec = hone_validate::scheme::SchemeSpec {
        scheme: Some(scheme.to_string()),
        n_splits: args.n_splits,
        shuffle: args.shuffle.then_some(true),
        seed: args.seed,
        gap: args.gap,
        max_train_size: args.max_train_size,
        test_size: args.test_size,
        train_size: args.train_size,
        step: args.step,
        anchored: args.anchored.then_some(true),
        embargo_pct: args.embargo_pct,
        n_groups: args.n_groups,
        n_test_groups: args.n_test_groups,
        purged_size: args.purged_size,
        embargo_size: args.embargo_size,
        temporal: args.temporal.then_some(true),
        holdout: None,
    };
    let usage = |e| crate::stats::flag_error(e, CliError::usage);
    let splitter = spec.build(0, 0).map_err(usage)?;
    if scheme == "stratified_kfold" && labels.is_none() {
        return Err(CliError::usage("stratified_kfold needs --labels FILE.csv"));
    }
    if args.label_horizon.is_some() && !matches!(scheme, "purged_kfold" | "cpcv" | "monte_carlo") {
        return Err(CliError::usage(
            "--label-horizon applies to purged_kfold, cpcv and monte_carlo only",
        ));
    }
    // Before the label windows below are listed: an absurd --n-samples is refused, not allocated.
    hone_validate::split::check_samples(n).map_err(usage)?;
    let label_end: Option<Vec<usize>> = args.label_horizon.map(|h| {
        (0..n)
            .map(|i| i.saturating_add(h).min(n.saturating_sub(1)))
            .collect()
    });
    let folds = splitter
        .split(&SplitInput {
            n_samples: n,
            labels: labels.as_deref(),
            label_end: label_end.as_deref(),
        })
        .map_err(usage)?;
    let paths = spec.cpcv_layout().map(|cp| cp.path_ids());
    if args.json {
        let mut v = folds_json(n, &folds);
        if let Some(p) = &paths {
            v["paths"] = json!(p);
        }
        println!("{v}");
    } else {
        print!("{}", render::folds(scheme, n, &folds, None));
        if let Some(p) = &paths {
            println!("backtest paths (path of each test group, per split): {p:?}");
        }
    }
    Ok(())
}

fn split_config(path: &Path, set: &[String], json_out: bool) -> Result<(), CliError> {
    let cfg = load_config(path, set)?;
    let hone_train::job::SplitPlan {
        scheme,
        folds,
        dev_end,
        holdout_start,
        n,
        times,
    } = hone_train::job::split_plan(&cfg)?;
    if json_out {
        let mut v = folds_json(dev_end, &folds);
        v["holdout"] = json!({"start": holdout_start, "end": n, "purged": holdout_start - dev_end});
        v["times"] = json!({"first": times.first(), "last": times.last()});
        println!("{v}");
    } else {
        print!(
            "{}",
            render::folds(&scheme, dev_end, &folds, Some((&times, holdout_start, n)))
        );
    }
    Ok(())
}

pub fn metrics(args: MetricsArgs) -> Result<(), CliError> {
    if !["binary", "multiclass", "regression"].contains(&args.task.as_str()) {
        return Err(CliError::usage(format!(
            "--task must be binary, multiclass or regression, got {:?}",
            args.task
        )));
    }
    let file = hone_train::predictions::read_path(&args.input, Some(&args.task))?;
    let out = hone_train::predictions::metrics_report(&file)?;
    if args.json {
        println!("{}", Value::Object(out));
    } else {
        print!("{}", render::metrics(&out));
        for w in &file.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(())
}

pub fn predict(args: PredictArgs) -> Result<(), CliError> {
    if let Some(path) = &args.out {
        hone_train::output::check_out_file(path, args.overwrite)
            .map_err(|e| out_error(e, " (pass --overwrite to replace it)"))?;
    }
    let model = resolve_model(&args.model, &args.store)?;
    let result = hone_train::predict::predict_with(model.path(), &args.data, args.all_times)?;
    if let Some(d) = model.described().filter(|_| !args.json) {
        eprintln!("model: {d}");
    }
    for note in &result.notes {
        eprintln!("note: {note}");
    }
    match &args.out {
        Some(path) => {
            hone_train::output::write_atomic(path, result.csv.as_bytes())
                .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", path.display())))?;
            if args.json {
                let mut v = json!({"rows": result.rows, "out": path, "notes": result.notes});
                if let Some(mv) = model.version_json() {
                    v["model_version"] = mv;
                }
                println!("{v}");
            } else {
                eprintln!("wrote {} predictions to {}", result.rows, path.display());
            }
        }
        None if args.json => println!("{}", result.records_json()),
        None => print!("{}", result.csv),
    }
    Ok(())
}

/// `hone evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// A `hone train` output directory, the id of a tracked `hone train` run, or a registered
    /// version (models:/NAME@production, models:/NAME/3, NAME/1.4.0): evaluated on --data, a
    /// version records the evaluation (`hone models history`).
    pub model: String,
    /// Labelled data to evaluate on (default: the training file's holdout rows).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub store: crate::tracking::StoreArgs,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// A `--model`/`MODEL_DIR` argument: a model directory, a tracked run's model (its output
/// folder, or its artifacts in a temporary folder removed on drop), or a registry reference
/// resolved to its version's source run's model.
enum ModelArg {
    Dir(PathBuf),
    Run(hone_train::evaluate::RunModelDir),
    Version(Box<hone_train::registry::ReferencedModel>),
}

impl ModelArg {
    fn path(&self) -> &Path {
        match self {
            ModelArg::Dir(d) => d,
            ModelArg::Run(r) => r.path(),
            ModelArg::Version(v) => v.dir.path(),
        }
    }

    fn is_from_artifacts(&self) -> bool {
        matches!(self, ModelArg::Run(r) if r.is_from_artifacts())
    }

    /// `model: models:/NAME@alias (version N, run ID)` for a registry reference.
    fn described(&self) -> Option<String> {
        match self {
            ModelArg::Version(v) => Some(v.describe()),
            _ => None,
        }
    }

    /// The `model_version` JSON object of a registry reference.
    fn version_json(&self) -> Option<Value> {
        match self {
            ModelArg::Version(v) => {
                Some(hone_train::registry::version_json(&v.reference, &v.version))
            }
            _ => None,
        }
    }
}

/// Resolves a model argument: an existing directory as it is (a directory always wins), a
/// registry reference (`models:/NAME/3`, `models:/NAME/1.4.0`, `models:/NAME@alias`, or the
/// bare `NAME/3`, `NAME@alias` forms) through `hone_train::registry::model_dir_of_reference`,
/// anything else as a run id in the store (`hone_train::evaluate::model_dir_of_run`).
fn resolve_model(model: &str, store: &crate::tracking::StoreArgs) -> Result<ModelArg, CliError> {
    let dir = PathBuf::from(model);
    if dir.is_dir() {
        return Ok(ModelArg::Dir(dir));
    }
    let reference = hone_train::registry::is_reference(model);
    let loc = store.location()?;
    let mode = hone_track::OpenMode::MustExist;
    let opened = hone_track::open_store_with(&loc.store_uri, mode).map_err(|e| match e {
        hone_track::TrackError::Invalid(_) if reference => CliError::usage(format!(
            "{model}: neither a model directory nor a registered model version ({e})"
        )),
        hone_track::TrackError::Invalid(_) => CliError::usage(format!(
            "{model}: neither a model directory nor a tracked run ({e})"
        )),
        e => crate::tracking::track_err(e),
    })?;
    let blobs = hone_track::artifacts::BlobStore::open(&loc.artifacts)
        .map_err(crate::tracking::track_err)?;
    if reference {
        let v = hone_train::registry::model_dir_of_reference(opened.as_ref(), &blobs, model)
            .map_err(|e| match e {
                hone_train::TrainError::Track(e) => crate::tracking::track_err(e),
                e => e.into(),
            })?;
        return Ok(ModelArg::Version(Box::new(v)));
    }
    let run = hone_train::evaluate::model_dir_of_run(opened.as_ref(), &blobs, model)?;
    Ok(ModelArg::Run(run))
}

/// `hone evaluate`: a registered version evaluated on new data (`--data`) also records the
/// result as an evaluation of that version (`hone models history`), gates failed or not.
pub fn evaluate(args: EvaluateArgs) -> Result<(), CliError> {
    let model = resolve_model(&args.model, &args.store)?;
    let r = hone_train::evaluate::evaluate(model.path(), args.data.as_deref());
    if let (Ok(report), ModelArg::Version(v), Some(_)) = (&r, &model, &args.data) {
        let (store, _) = args.store.open(hone_track::OpenMode::MustExist)?;
        hone_train::registry::changelog::record_evaluation(store.as_ref(), &v.version, report)
            .map_err(crate::tracking::track_err)?;
    }
    let label = model.described().or_else(|| {
        model
            .is_from_artifacts()
            .then(|| format!("run {} (its artifacts)", args.model))
    });
    print_evaluation(r, label, model.version_json(), args.json)
}

/// Prints an evaluation (`label`: what to name the model as in place of the folder it was
/// read from: a run's artifacts or a registry reference; `model_version`: the registry
/// version's JSON object).
fn print_evaluation(
    r: Result<hone_train::evaluate::EvaluateReport, hone_train::TrainError>,
    label: Option<String>,
    model_version: Option<Value>,
    json_out: bool,
) -> Result<(), CliError> {
    let mut r = r?;
    if let Some(label) = label {
        r.model = label;
    }
    if json_out {
        let mut v = serde_json::to_value(&r).map_err(|e| CliError::runtime(e.to_string()))?;
        if let Some(mv) = model_version {
            v["model_version"] = mv;
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| CliError::runtime(e.to_string()))?
        );
    } else {
        println!(
            "hone evaluate: {} on {} ({} rows, {}..{}, sha256 {})",
            r.model, r.data, r.rows, r.period.0, r.period.1, r.fingerprint
        );
        for n in &r.notes {
            println!("note: {n}");
        }
        for (k, v) in &r.metrics {
            println!("  {k:<20} {}", render::num(*v));
        }
        if let Some(t) = &r.trading {
            println!(
                "  trading: Sharpe {:.3}, Sortino {:.3}, CAGR {:.2}%, max DD {:.2}%, PSR {}",
                t.metrics.sharpe,
                t.metrics.sortino,
                t.metrics.annual_return * 100.0,
                t.metrics.max_drawdown * 100.0,
                t.psr.map_or("-".into(), |p| format!("{p:.3}"))
            );
        }
        if !r.drift.is_empty() {
            println!(
                "  drift vs training data: {}",
                render::drift_summary(&r.drift)
            );
        }
        for g in &r.gates {
            println!("  {}", render::gate_line(g));
        }
    }
    let failed = hone_train::gates::failed_hard(&r.gates);
    if !failed.is_empty() {
        return Err(CliError {
            code: 3,
            message: format!("hard gate(s) failed: {}", failed.join("; ")),
        });
    }
    Ok(())
}

/// `hone init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Your data file (CSV or Parquet with a header).
    pub data: PathBuf,
    /// What the config sets up: direction (binary up/down), regression (forward return),
    /// purged-trading (purged k-fold, backtest with costs, gates) or tune (direction + [search]).
    #[arg(long, default_value = "direction")]
    pub template: String,
    /// Where to write the config [default: <data stem>_<template>.toml in the current folder].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    pub overwrite: bool,
    /// The price column features and the label are derived from (default: detected: adjusted
    /// close, close, price or last, in any case, with spaces or underscores).
    #[arg(long)]
    pub price: Option<String>,
    /// Print what was detected as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn init(args: InitArgs) -> Result<(), CliError> {
    let template: hone_train::init::Template = args
        .template
        .parse()
        .map_err(|e: String| CliError::usage(format!("--template: {e}")))?;
    let out = match &args.out {
        Some(p) => p.clone(),
        None => {
            let stem = args
                .data
                .file_stem()
                .map_or("hone".into(), |s| s.to_string_lossy().into_owned());
            PathBuf::from(format!("{stem}_{}.toml", template.name().replace('-', "_")))
        }
    };
    hone_train::output::check_out_file(&out, args.overwrite)
        .map_err(|e| out_error(e, " (pass --overwrite to replace it)"))?;
    let starter =
        hone_train::init::starter_config(&args.data, template, &out, args.price.as_deref())?;
    hone_train::output::write_atomic(&out, starter.text.as_bytes())
        .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", out.display())))?;
    if args.json {
        println!(
            "{}",
            json!({
                "out": out,
                "template": template.name(),
                "rows": starter.rows,
                "time_column": starter.time_column,
                "price": starter.price,
                "volume": starter.volume,
                "high_low": starter.high_low,
                "notes": starter.notes,
            })
        );
    } else {
        println!(
            "wrote {} (template {}): time {}, price {}, volume {}, high/low {}",
            render::escape(&out.display().to_string()),
            template.name(),
            render::escape(
                starter
                    .time_column
                    .as_deref()
                    .unwrap_or("none (file order)")
            ),
            render::escape(&starter.price),
            render::escape(starter.volume.as_deref().unwrap_or("none")),
            starter
                .high_low
                .as_ref()
                .map_or("none".into(), |(h, l)| render::escape(&format!("{h}, {l}"))
                    .to_string())
        );
        for n in &starter.notes {
            println!("note: {}", render::escape(n));
        }
        let verb = if template == hone_train::init::Template::Tune {
            "tune"
        } else {
            "train"
        };
        println!(
            "next: hone split {0} (the folds), then hone {verb} {0}",
            render::escape(&out.display().to_string())
        );
    }
    Ok(())
}

/// `hone export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A `hone train` output directory, or the id of a tracked `hone train` run.
    pub model: String,
    /// Write the feature matrix here (Parquet); an existing file needs --overwrite.
    #[arg(long)]
    pub features: PathBuf,
    /// Compute the features of this file instead of the run's own training data.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Replace an existing --features file.
    #[arg(long)]
    pub overwrite: bool,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: crate::tracking::StoreArgs,
}

pub fn export(args: ExportArgs) -> Result<(), CliError> {
    // Checked before any work, as `hone predict --out` is.
    hone_train::output::check_out_file(&args.features, args.overwrite).map_err(|e| {
        let hint = match e {
            hone_train::output::OutDirError::AlreadyExists { .. } => {
                " (pass --overwrite to replace it)"
            }
            _ => "",
        };
        CliError::usage(format!("--features {e}{hint}"))
    })?;
    let model = resolve_model(&args.model, &args.store)?;
    let export = hone_train::export::export_features(model.path(), args.data.as_deref())?;
    hone_train::output::write_atomic(&args.features, &export.parquet)
        .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", args.features.display())))?;
    if args.json {
        let mut v = serde_json::to_value(&export).map_err(|e| CliError::runtime(e.to_string()))?;
        v["out"] = json!(args.features);
        if let Some(mv) = model.version_json() {
            v["model_version"] = mv;
        }
        println!("{v}");
    } else {
        if let Some(d) = model.described() {
            println!("model: {}", render::escape(&d));
        }
        for n in &export.notes {
            eprintln!("note: {}", render::escape(n));
        }
        let roles = export
            .roles
            .iter()
            .map(|(r, k)| format!("{k} {r}"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "wrote {} rows{} x {} features of {} to {}",
            export.rows,
            if roles.is_empty() {
                String::new()
            } else {
                format!(" ({roles})")
            },
            export.features.len(),
            render::escape(&export.data.display().to_string()),
            render::escape(&args.features.display().to_string())
        );
        println!("columns: {}", render::escape(&export.columns.join(", ")));
    }
    Ok(())
}
