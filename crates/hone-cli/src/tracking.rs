//! `hone experiments|runs|artifacts|gc`: the tracking store from the command line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::IsTerminal as _;

use clap::{Args, Subcommand};
use hone_track::location::{Location, resolve};
use hone_track::retention::{self, Policy};
use hone_track::store::{Batch, SearchRequest};
use hone_track::{Backend, Lifecycle, OpenMode, Run, Store, ViewType, open_store_with};

use crate::render::escape;
use serde_json::json;

use crate::CliError;

/// Where the store is (every store command takes these).
#[derive(Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// Store URI: a path, sqlite:///path/hone.db, file:///path/hone.db,
    /// postgresql://user@host:port/db, or a hone server's http(s)://host:port
    /// [env: HONE_STORE_URI; default: sqlite://.hone/hone.db]
    #[arg(long, global = true)]
    pub store: Option<String>,
    /// Artifact location: a folder, file:///path or s3://bucket/prefix
    /// [env: HONE_ARTIFACTS_URI; default: artifacts/ beside the SQLite file]
    #[arg(long, global = true)]
    pub artifacts: Option<String>,
}

impl StoreArgs {
    /// The resolved location.
    pub fn location(&self) -> Result<Location, CliError> {
        resolve(self.store.as_deref(), self.artifacts.as_deref()).map_err(track_err)
    }

    /// Opens the store: `OpenMode::Create` for commands that record, `OpenMode::MustExist` for
    /// the others, so that they never leave a new store (or folder) behind.
    pub fn open(&self, mode: OpenMode) -> Result<(Box<dyn Backend>, Location), CliError> {
        let loc = self.location()?;
        let store = open_store_with(&loc.store_uri, mode).map_err(track_err)?;
        Ok((store, loc))
    }
}

/// Maps store errors to CLI errors (bad requests exit 2).
pub fn track_err(e: hone_track::TrackError) -> CliError {
    match e {
        hone_track::TrackError::Invalid(_) | hone_track::TrackError::NotFound(_) => {
            CliError::usage(e.to_string())
        }
        _ => CliError::runtime(e.to_string()),
    }
}

/// `hone experiments ...`
#[derive(Args, Debug)]
pub struct ExperimentsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    cmd: ExperimentsCmd,
}

#[derive(Subcommand, Debug)]
enum ExperimentsCmd {
    /// List experiments (active ones unless --deleted or --all).
    List {
        /// Show deleted experiments only.
        #[arg(long)]
        deleted: bool,
        /// Show active and deleted experiments.
        #[arg(long)]
        all: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Create an experiment.
    Create {
        /// Its unique name.
        name: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Rename an experiment.
    Rename {
        /// Current name.
        name: String,
        /// New name.
        new_name: String,
    },
    /// Soft-delete an experiment (restorable).
    Delete {
        /// Name.
        name: String,
    },
    /// Restore a deleted experiment.
    Restore {
        /// Name.
        name: String,
    },
}

fn experiment_id(store: &dyn Store, name: &str) -> Result<String, CliError> {
    store
        .get_experiment_by_name(name)
        .map_err(track_err)?
        .map(|e| e.experiment_id)
        .ok_or_else(|| {
            CliError::usage(format!(
                "no experiment named {name:?} (see `hone experiments list`)"
            ))
        })
}

fn view(deleted: bool, all: bool) -> ViewType {
    if all {
        ViewType::All
    } else if deleted {
        ViewType::DeletedOnly
    } else {
        ViewType::ActiveOnly
    }
}

/// A run as JSON, in the shape every `--json` output uses for params and metrics: flat
/// `{key: value}` objects (params and tags are text, metrics the latest value as a number, `null`
/// when not finite), like `hone train --json`'s metrics and `hone study`'s params; the step of
/// each latest metric (a learning curve's last round) in `metric_steps`, keyed the same way.
pub(crate) fn run_json(r: &Run) -> serde_json::Value {
    let text = |pairs: &[(String, String)]| -> serde_json::Map<String, serde_json::Value> {
        pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
    };
    let metrics: serde_json::Map<String, serde_json::Value> = r
        .metrics
        .iter()
        .map(|m| (m.key.clone(), json!(m.point.value)))
        .collect();
    let steps: serde_json::Map<String, serde_json::Value> = r
        .metrics
        .iter()
        .map(|m| (m.key.clone(), json!(m.point.step)))
        .collect();
    json!({"info": r.info, "params": text(&r.params), "metrics": metrics,
           "metric_steps": steps, "tags": text(&r.tags)})
}

fn print_json(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

/// Prints a list as every list command does with `--json`: `{"items": [...],
/// "next_page_token": <string|null>}` (MLflow's paged shape; null where there is no next page
/// or the command does not page), so one parser reads them all.
pub(crate) fn print_list(items: impl serde::Serialize, next_page_token: Option<String>) {
    print_json(json!({"items": items, "next_page_token": next_page_token}));
}

/// Runs an experiments subcommand.
pub fn experiments(args: ExperimentsArgs) -> Result<(), CliError> {
    let mode = match args.cmd {
        ExperimentsCmd::Create { .. } => OpenMode::Create,
        _ => OpenMode::MustExist,
    };
    let (store, _) = args.store.open(mode)?;
    let store = store.as_ref();
    match args.cmd {
        ExperimentsCmd::List { deleted, all, json } => {
            let list = store
                .list_experiments(view(deleted, all))
                .map_err(track_err)?;
            if json {
                print_list(list, None);
            } else {
                println!("{:<6} {:<32} {:<8} created", "id", "name", "state");
                for e in list {
                    println!(
                        "{:<6} {:<32} {:<8} {}",
                        e.experiment_id,
                        escape(&e.name),
                        e.lifecycle.as_str(),
                        crate::render::ms_to_utc(e.creation_time)
                    );
                }
            }
        }
        ExperimentsCmd::Create { name, json } => {
            let id = store.create_experiment(&name, &[]).map_err(track_err)?;
            if json {
                print_json(json!({"experiment_id": id, "name": name}));
            } else {
                println!("created experiment {name:?} (id {id})");
            }
        }
        ExperimentsCmd::Rename { name, new_name } => {
            let id = experiment_id(store, &name)?;
            store.rename_experiment(&id, &new_name).map_err(track_err)?;
            println!("renamed {name:?} to {new_name:?}");
        }
        ExperimentsCmd::Delete { name } => {
            let id = experiment_id(store, &name)?;
            store
                .set_experiment_lifecycle(&id, Lifecycle::Deleted)
                .map_err(track_err)?;
            println!(
                "deleted experiment {name:?} (restore with `hone experiments restore {name}`)"
            );
        }
        ExperimentsCmd::Restore { name } => {
            let id = experiment_id(store, &name)?;
            store
                .set_experiment_lifecycle(&id, Lifecycle::Active)
                .map_err(track_err)?;
            println!("restored experiment {name:?}");
        }
    }
    Ok(())
}

/// `hone runs ...`
#[derive(Args, Debug)]
pub struct RunsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    cmd: RunsCmd,
}

#[derive(Subcommand, Debug)]
enum RunsCmd {
    /// List the runs of an experiment, newest first.
    List {
        /// Experiment name.
        #[arg(long)]
        experiment: String,
        /// At most this many runs (one page).
        #[arg(long, default_value_t = 100)]
        max_results: usize,
        /// Token of the next page (printed by the previous page).
        #[arg(long)]
        page_token: Option<String>,
        /// Extra columns, comma-separated: metric keys (bare or `metrics.X`), `params.X`,
        /// `tags.X`, e.g. cv.roc_auc.mean,params.model.type (missing values show as -).
        #[arg(long)]
        columns: Option<String>,
        /// JSON output: {"items": [...], "next_page_token": ...}.
        #[arg(long)]
        json: bool,
    },
    /// Show one run: attributes, params, metrics, tags, datasets, artifacts, child runs.
    Show {
        /// Run id.
        run_id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Search runs with MLflow's filter grammar.
    Search {
        /// Experiment name (repeatable).
        #[arg(long, required = true)]
        experiment: Vec<String>,
        /// Filter, e.g. "metrics.`cv.roc_auc.mean` > 0.52 AND params.`model.type` = 'lightgbm'".
        #[arg(long, default_value = "")]
        filter: String,
        /// Sort term, e.g. "metrics.`cv.roc_auc.mean` DESC" (repeatable).
        #[arg(long)]
        order_by: Vec<String>,
        /// Page size (1..=50000).
        #[arg(long, default_value_t = 1000)]
        max_results: usize,
        /// Token of the next page (printed by the previous page).
        #[arg(long)]
        page_token: Option<String>,
        /// Search deleted runs only.
        #[arg(long)]
        deleted: bool,
        /// Search active and deleted runs.
        #[arg(long)]
        all: bool,
        /// Extra columns, comma-separated: metric keys (bare or `metrics.X`), `params.X`,
        /// `tags.X`, e.g. cv.roc_auc.mean,holdout.trading.sharpe (missing values show as -).
        #[arg(long)]
        columns: Option<String>,
        /// JSON output: {"items": [...], "next_page_token": ...}.
        #[arg(long)]
        json: bool,
    },
    /// Set tags on a run: KEY=VALUE ... (e.g. hone.keep=true protects it from `runs prune`).
    Tag {
        /// Run id.
        run_id: String,
        /// KEY=VALUE pairs.
        #[arg(required = true, value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove tags from a run.
    Untag {
        /// Run id.
        run_id: String,
        /// Tag keys.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Every point of one metric of a run (e.g. a fold's learning curve `valid.binary_logloss`):
    /// a chart on a terminal, else `step value timestamp` lines.
    History {
        /// Run id.
        run_id: String,
        /// Metric key.
        metric: String,
        /// Draw the chart even when stdout is not a terminal.
        #[arg(long)]
        chart: bool,
        /// JSON output: {"items": [{"step", "value", "timestamp"}], "next_page_token": null}.
        #[arg(long)]
        json: bool,
    },
    /// Compare runs: params side by side (differences marked), metrics with differences.
    Compare {
        /// Two or more run ids.
        #[arg(num_args = 2.., required = true)]
        runs: Vec<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Soft-delete runs (restorable until purged).
    Delete {
        /// Run ids.
        #[arg(required = true)]
        runs: Vec<String>,
    },
    /// Restore deleted runs.
    Restore {
        /// Run ids.
        #[arg(required = true)]
        runs: Vec<String>,
    },
    /// Mark RUNNING runs whose process died as KILLED.
    Reap {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Apply a retention policy to an experiment (soft delete); report first with --dry-run.
    Prune {
        /// Experiment name.
        #[arg(long)]
        experiment: String,
        /// Keep the newest N top-level runs.
        #[arg(long)]
        keep_last: Option<usize>,
        /// Delete runs that started more than D days ago.
        #[arg(long)]
        older_than_days: Option<f64>,
        /// Only report what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Permanently remove deleted runs and deleted MLflow logged models (then `hone gc` frees
    /// their artifacts).
    Purge {
        /// Only runs and logged models deleted at least this many days ago.
        #[arg(long, default_value_t = 0.0)]
        older_than_days: f64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// A metric in a table: six significant digits ([`crate::render::num`]).
fn fmt_value(v: f64) -> String {
    crate::render::num(v)
}

fn run_line(r: &Run) -> String {
    format!(
        "{}  {:<24} {:<9} {}",
        r.info.run_id,
        escape(&r.info.run_name),
        r.info.status.as_str(),
        crate::render::ms_to_utc(r.info.start_time)
    )
}

/// What a `--columns` entry reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    Metric,
    Param,
    Tag,
}

/// One `--columns` entry: as written (the header and JSON key), its kind and key.
#[derive(Debug, Clone)]
struct Column {
    spec: String,
    kind: ColumnKind,
    key: String,
}

/// Parses `--columns` with the filter grammar's prefixes (`metrics.`, `params.`, `tags.`;
/// a bare name is a metric, as most columns are) and its backtick quoting of the key.
fn parse_columns(spec: Option<&str>) -> Result<Vec<Column>, CliError> {
    let Some(spec) = spec else {
        return Ok(Vec::new());
    };
    spec.split(',')
        .map(|raw| {
            let raw = raw.trim();
            let (kind, name, rest) = if let Some(r) = raw.strip_prefix("metrics.") {
                (ColumnKind::Metric, "metric", r)
            } else if let Some(r) = raw.strip_prefix("params.") {
                (ColumnKind::Param, "param", r)
            } else if let Some(r) = raw.strip_prefix("tags.") {
                (ColumnKind::Tag, "tag", r)
            } else {
                (ColumnKind::Metric, "metric", raw)
            };
            let key = rest
                .strip_prefix('`')
                .and_then(|r| r.strip_suffix('`'))
                .unwrap_or(rest);
            hone_track::validate_key(name, key)
                .map_err(|e| CliError::usage(format!("--columns {raw:?}: {e}")))?;
            Ok(Column {
                spec: raw.to_string(),
                kind,
                key: key.to_string(),
            })
        })
        .collect()
}

/// A column's value for `--json`: a metric's latest value (a number, or null when missing or
/// NaN), a param's or tag's text, or null.
fn column_json(r: &Run, c: &Column) -> serde_json::Value {
    let text = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .find(|(k, _)| *k == c.key)
            .map_or(serde_json::Value::Null, |(_, v)| json!(v))
    };
    match c.kind {
        ColumnKind::Metric => r
            .metrics
            .iter()
            .find(|m| m.key == c.key)
            .map_or(serde_json::Value::Null, |m| json!(m.point.value)),
        ColumnKind::Param => text(&r.params),
        ColumnKind::Tag => text(&r.tags),
    }
}

/// A column's table cell: `-` when the run has no such value.
fn column_cell(r: &Run, c: &Column) -> String {
    let found = match c.kind {
        ColumnKind::Metric => r
            .metrics
            .iter()
            .find(|m| m.key == c.key)
            .map(|m| fmt_value(m.point.value)),
        ColumnKind::Param => r
            .params
            .iter()
            .find(|(k, _)| *k == c.key)
            .map(|(_, v)| v.clone()),
        ColumnKind::Tag => r
            .tags
            .iter()
            .find(|(k, _)| *k == c.key)
            .map(|(_, v)| v.clone()),
    };
    found.unwrap_or_else(|| "-".into())
}

/// Prints a page of runs (`runs list`, `runs search`): the list envelope with `--json` (each
/// run with a `columns` object when columns were asked for), else a line per run, a header
/// when there are extra columns, and the next page's token.
fn print_runs(runs: &[Run], next: Option<String>, columns: &[Column], json_out: bool) {
    if json_out {
        let items: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                let mut v = run_json(r);
                if !columns.is_empty() {
                    let cols: serde_json::Map<String, serde_json::Value> = columns
                        .iter()
                        .map(|c| (c.spec.clone(), column_json(r, c)))
                        .collect();
                    v["columns"] = serde_json::Value::Object(cols);
                }
                v
            })
            .collect();
        print_list(items, next);
        return;
    }
    if columns.is_empty() {
        for r in runs {
            println!("{}", run_line(r));
        }
    } else {
        const MAX_WIDTH: usize = 24;
        let cells: Vec<Vec<String>> = runs
            .iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| truncate(&column_cell(r, c), MAX_WIDTH))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .map(|row| row[i].chars().count())
                    .chain([truncate(&c.spec, MAX_WIDTH).chars().count()])
                    .max()
                    .unwrap_or(1)
            })
            .collect();
        let mut header = format!(
            "{:<32}  {:<24} {:<9} {:<19}",
            "run_id", "name", "status", "started"
        );
        for (c, w) in columns.iter().zip(&widths) {
            let _ = write!(header, "  {:>w$}", truncate(&c.spec, MAX_WIDTH));
        }
        println!("{}", header.trim_end());
        for (r, row) in runs.iter().zip(&cells) {
            let mut line = run_line(r);
            for (cell, w) in row.iter().zip(&widths) {
                let _ = write!(line, "  {cell:>w$}");
            }
            println!("{line}");
        }
    }
    if let Some(t) = next {
        println!("more results: --page-token {t}");
    }
}

/// Refuses a tag key a user may not set or remove by hand: an invalid MLflow key, MLflow's
/// system tags (`mlflow.*`, except the run description `mlflow.note.content`), and the
/// `hone.*` tags hone writes itself (except `hone.keep`, which is for users).
fn check_user_tag(key: &str) -> Result<(), CliError> {
    hone_track::validate_key("tag", key).map_err(|e| CliError::usage(e.to_string()))?;
    if key.starts_with("mlflow.") && key != "mlflow.note.content" {
        return Err(CliError::usage(format!(
            "tag {key:?} is one of MLflow's system tags, set when the run is recorded \
             (only mlflow.note.content, the run's description, may be set by hand)"
        )));
    }
    if key.starts_with(hone_track::keys::PREFIX) && key != hone_track::keys::KEEP {
        return Err(CliError::usage(format!(
            "tag {key:?} is written by hone itself; of the {}* tags only {} may be set by hand",
            hone_track::keys::PREFIX,
            hone_track::keys::KEEP
        )));
    }
    Ok(())
}

/// Runs a runs subcommand.
pub fn runs(args: RunsArgs) -> Result<(), CliError> {
    let (store, _) = args.store.open(OpenMode::MustExist)?;
    let store = store.as_ref();
    match args.cmd {
        RunsCmd::List {
            experiment,
            max_results,
            page_token,
            columns,
            json,
        } => {
            let columns = parse_columns(columns.as_deref())?;
            let id = experiment_id(store, &experiment)?;
            let (runs, next) = store
                .search_runs(&SearchRequest {
                    experiment_ids: vec![id],
                    max_results,
                    page_token,
                    ..Default::default()
                })
                .map_err(track_err)?;
            print_runs(&runs, next, &columns, json);
        }
        RunsCmd::Show { run_id, json } => {
            let run = store.get_run(&run_id).map_err(track_err)?;
            let inputs = store.run_inputs(&run_id).map_err(track_err)?;
            let artifacts = store.list_artifacts(&run_id).map_err(track_err)?;
            let children = store.child_runs(&run_id).map_err(track_err)?;
            if json {
                print_json(
                    json!({"run": run_json(&run), "inputs": inputs, "artifacts": artifacts, "children": children}),
                );
            } else {
                let mut s = String::new();
                let i = &run.info;
                let _ = writeln!(
                    s,
                    "run {} ({}) in experiment {}",
                    i.run_id,
                    escape(&i.run_name),
                    i.experiment_id
                );
                let _ = writeln!(
                    s,
                    "status {} | {} | started {} | ended {}",
                    i.status.as_str(),
                    i.lifecycle.as_str(),
                    crate::render::ms_to_utc(i.start_time),
                    i.end_time.map_or("-".into(), crate::render::ms_to_utc)
                );
                if let Some(p) = &i.parent_run_id {
                    let _ = writeln!(s, "parent {}", escape(p));
                }
                let _ = writeln!(s, "\nparams:");
                for (k, v) in &run.params {
                    let _ = writeln!(s, "  {} = {}", escape(k), escape(v));
                }
                let _ = writeln!(s, "\nmetrics (latest):");
                for m in &run.metrics {
                    let _ = writeln!(
                        s,
                        "  {} = {} (step {})",
                        escape(&m.key),
                        fmt_value(m.point.value),
                        m.point.step
                    );
                }
                let _ = writeln!(s, "\ntags:");
                for (k, v) in &run.tags {
                    let _ = writeln!(s, "  {} = {}", escape(k), escape(v));
                }
                if !inputs.is_empty() {
                    let _ = writeln!(s, "\ndatasets:");
                    for d in &inputs {
                        let _ = writeln!(
                            s,
                            "  {} ({}, {} rows, sha256 {}) from {}",
                            escape(&d.name),
                            escape(&d.context),
                            d.rows,
                            escape(&d.digest),
                            escape(&d.source)
                        );
                    }
                }
                if !artifacts.is_empty() {
                    let _ = writeln!(s, "\nartifacts:");
                    for a in &artifacts {
                        let _ = writeln!(
                            s,
                            "  {:<32} {:>10} B  sha256 {}",
                            escape(&a.path),
                            a.size,
                            escape(&a.sha256)
                        );
                    }
                }
                if !children.is_empty() {
                    let _ = writeln!(s, "\nchild runs:");
                    for c in &children {
                        let _ = writeln!(
                            s,
                            "  {}  {:<16} {}",
                            escape(&c.run_id),
                            escape(&c.run_name),
                            c.status.as_str()
                        );
                    }
                }
                print!("{s}");
            }
        }
        RunsCmd::Search {
            experiment,
            filter,
            order_by,
            max_results,
            page_token,
            deleted,
            all,
            columns,
            json,
        } => {
            let columns = parse_columns(columns.as_deref())?;
            let ids = experiment
                .iter()
                .map(|e| experiment_id(store, e))
                .collect::<Result<Vec<_>, _>>()?;
            let (runs, next) = store
                .search_runs(&SearchRequest {
                    experiment_ids: ids,
                    filter,
                    order_by,
                    max_results,
                    page_token,
                    view: view(deleted, all),
                })
                .map_err(track_err)?;
            print_runs(&runs, next, &columns, json);
        }
        RunsCmd::Tag { run_id, tags, json } => {
            let mut pairs = Vec::with_capacity(tags.len());
            for t in &tags {
                let (k, v) = t.split_once('=').ok_or_else(|| {
                    CliError::usage(format!(
                        "runs tag: {:?} is not KEY=VALUE (e.g. {}=true)",
                        t,
                        hone_track::keys::KEEP
                    ))
                })?;
                check_user_tag(k)?;
                if k == hone_track::keys::KEEP && !matches!(v, "true" | "false") {
                    return Err(CliError::usage(format!(
                        "runs tag: {k} must be true or false, got {v:?}"
                    )));
                }
                if v.len() > hone_track::MAX_TAG_VALUE {
                    return Err(CliError::usage(format!(
                        "runs tag: the value of {k:?} is longer than {} bytes (MLflow's limit)",
                        hone_track::MAX_TAG_VALUE
                    )));
                }
                pairs.push((k.to_string(), v.to_string()));
            }
            store
                .log_batches(&[Batch {
                    run_id: run_id.clone(),
                    tags: pairs.clone(),
                    ..Default::default()
                }])
                .map_err(track_err)?;
            if json {
                let tags: BTreeMap<&str, &str> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                print_json(json!({"run_id": run_id, "tags": tags}));
            } else {
                for (k, v) in &pairs {
                    println!("run {run_id}: {} = {}", escape(k), escape(v));
                }
            }
        }
        RunsCmd::Untag { run_id, keys, json } => {
            let run = store.get_run(&run_id).map_err(track_err)?;
            // Every key is checked before any is removed: a typo removes nothing.
            for k in &keys {
                check_user_tag(k)?;
                if !run.tags.iter().any(|(t, _)| t == k) {
                    return Err(CliError::usage(format!(
                        "run {run_id} has no tag {k:?} (see `hone runs show {run_id}`)"
                    )));
                }
            }
            let mut removed: Vec<&str> = Vec::new();
            for k in &keys {
                if removed.contains(&k.as_str()) {
                    continue;
                }
                store.delete_tag(&run_id, k).map_err(track_err)?;
                removed.push(k);
            }
            if json {
                print_json(json!({"run_id": run_id, "removed": removed}));
            } else {
                for k in &removed {
                    println!("run {run_id}: removed tag {}", escape(k));
                }
            }
        }
        RunsCmd::History {
            run_id,
            metric,
            chart,
            json,
        } => {
            let points = hone_train::tracking::metric_series(store, &run_id, &metric).map_err(
                |e| match e {
                    hone_train::TrainError::Track(e) => track_err(e),
                    e => e.into(),
                },
            )?;
            if json {
                let items: Vec<serde_json::Value> = points
                    .iter()
                    .map(|p| json!({"step": p.step, "value": p.value, "timestamp": p.timestamp}))
                    .collect();
                print_list(items, None);
            } else if chart || std::io::stdout().is_terminal() {
                let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.step as f64, p.value)).collect();
                print!("{}", crate::render::line_chart(&metric, &xy, 64, 14));
            } else {
                println!("step\tvalue\ttimestamp");
                for p in &points {
                    println!(
                        "{}\t{}\t{}",
                        p.step,
                        fmt_value(p.value),
                        crate::render::ms_to_utc(p.timestamp)
                    );
                }
            }
        }
        RunsCmd::Compare { runs, json } => {
            let loaded = runs
                .iter()
                .map(|r| store.get_run(r).map_err(track_err))
                .collect::<Result<Vec<_>, _>>()?;
            compare(&loaded, json);
        }
        RunsCmd::Delete { runs } => {
            store
                .set_runs_lifecycle_cascade(&runs, Lifecycle::Deleted)
                .map_err(track_err)?;
            println!(
                "deleted {} run(s) (restore with `hone runs restore`)",
                runs.len()
            );
        }
        RunsCmd::Restore { runs } => {
            store
                .set_runs_lifecycle_cascade(&runs, Lifecycle::Active)
                .map_err(track_err)?;
            println!("restored {} run(s)", runs.len());
        }
        RunsCmd::Reap { json } => {
            let reaped = store.reap().map_err(track_err)?;
            if json {
                print_json(json!({"reaped": reaped}));
            } else {
                println!("marked {} dead run(s) KILLED", reaped.len());
                for r in reaped {
                    println!("  {r}");
                }
            }
        }
        RunsCmd::Prune {
            experiment,
            keep_last,
            older_than_days,
            dry_run,
            json,
        } => {
            if keep_last.is_none() && older_than_days.is_none() {
                return Err(CliError::usage(
                    "give --keep-last N and/or --older-than-days D",
                ));
            }
            let id = experiment_id(store, &experiment)?;
            let plan = retention::plan(
                store,
                &id,
                &Policy {
                    keep_last,
                    older_than_days,
                },
            )
            .map_err(track_err)?;
            let deleted = if dry_run {
                0
            } else {
                retention::apply(store, &plan).map_err(track_err)?
            };
            if json {
                print_json(json!({"dry_run": dry_run, "runs": plan, "deleted": deleted}));
            } else {
                let verb = if dry_run { "would delete" } else { "deleted" };
                println!(
                    "{verb} {} run(s) (runs tagged {}=true are kept):",
                    plan.len(),
                    retention::KEEP_TAG
                );
                for d in &plan {
                    println!(
                        "  {}  {:<24} {}  {}",
                        escape(&d.run_id),
                        escape(&d.run_name),
                        crate::render::ms_to_utc(d.start_time),
                        escape(&d.reason)
                    );
                }
            }
        }
        RunsCmd::Purge {
            older_than_days,
            json,
        } => {
            let min_age_ms = (older_than_days * 86_400_000.0) as i64;
            let purged = store.purge_deleted_runs(min_age_ms).map_err(track_err)?;
            // Logged models (deleted through `hone server`) are purged with the runs: their
            // files are freed by the same `hone gc`.
            let models = store
                .purge_deleted_logged_models(min_age_ms)
                .map_err(track_err)?;
            if json {
                print_json(json!({"purged": purged, "purged_logged_models": models}));
            } else {
                println!(
                    "purged {} deleted run(s) and {} deleted logged model(s); run `hone gc` to \
                     free their artifacts",
                    purged.len(),
                    models.len()
                );
            }
        }
    }
    Ok(())
}

fn compare(runs: &[Run], json_out: bool) {
    let param_keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.params.iter().map(|(k, _)| k.as_str()))
        .collect();
    let metric_keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.metrics.iter().map(|m| m.key.as_str()))
        .collect();
    let param = |r: &Run, k: &str| {
        r.params
            .iter()
            .find(|(pk, _)| pk == k)
            .map(|(_, v)| v.clone())
    };
    let metric = |r: &Run, k: &str| r.metrics.iter().find(|m| m.key == k).map(|m| m.point.value);
    if json_out {
        let params: BTreeMap<&str, serde_json::Value> = param_keys
            .iter()
            .map(|k| {
                let values: Vec<Option<String>> = runs.iter().map(|r| param(r, k)).collect();
                let differs = values.windows(2).any(|w| w[0] != w[1]);
                (*k, json!({"values": values, "differs": differs}))
            })
            .collect();
        let metrics: BTreeMap<&str, serde_json::Value> = metric_keys
            .iter()
            .map(|k| {
                let values: Vec<Option<f64>> = runs.iter().map(|r| metric(r, k)).collect();
                let diff: Vec<Option<f64>> = values
                    .iter()
                    .map(|v| Some(v.as_ref()? - values[0]?))
                    .collect();
                (*k, json!({"values": values, "diff_from_first": diff}))
            })
            .collect();
        let ids: Vec<&str> = runs.iter().map(|r| r.info.run_id.as_str()).collect();
        print_json(json!({"runs": ids, "params": params, "metrics": metrics}));
        return;
    }
    let width = 22;
    let mut header = format!("  {:<40}", "");
    for r in runs {
        let _ = write!(header, " {:>width$}", truncate(&r.info.run_name, width));
    }
    println!("{header}");
    println!("params (* = differs):");
    for k in &param_keys {
        let values: Vec<Option<String>> = runs.iter().map(|r| param(r, k)).collect();
        let mark = if values.windows(2).any(|w| w[0] != w[1]) {
            '*'
        } else {
            ' '
        };
        let mut line = format!("{mark} {:<40}", truncate(k, 40));
        for v in &values {
            let _ = write!(
                line,
                " {:>width$}",
                truncate(v.as_deref().unwrap_or("-"), width)
            );
        }
        println!("{line}");
    }
    println!("metrics (latest; Δ vs the first run in brackets):");
    for k in &metric_keys {
        let values: Vec<Option<f64>> = runs.iter().map(|r| metric(r, k)).collect();
        let mut line = format!("  {:<40}", truncate(k, 40));
        for (i, v) in values.iter().enumerate() {
            let cell = match (v, values[0]) {
                (Some(x), Some(base)) if i > 0 => {
                    let d = x - base;
                    let sign = if d >= 0.0 { "+" } else { "" };
                    format!("{} ({sign}{})", fmt_value(*x), fmt_value(d))
                }
                (Some(x), _) => fmt_value(*x),
                (None, _) => "-".into(),
            };
            let _ = write!(line, " {:>width$}", truncate(&cell, width));
        }
        println!("{line}");
    }
}

/// A table cell: escaped (see [`escape`]), then cut to `n` characters.
fn truncate(s: &str, n: usize) -> String {
    let s = escape(s);
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    }
}

/// `hone artifacts ...`
#[derive(Args, Debug)]
pub struct ArtifactsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    cmd: ArtifactsCmd,
}

#[derive(Subcommand, Debug)]
enum ArtifactsCmd {
    /// List a run's artifacts with sizes and checksums.
    List {
        /// Run id.
        run_id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Write an artifact to a file (or stdout), after checking its checksum.
    Get {
        /// Run id.
        run_id: String,
        /// Logical path, e.g. model.txt.
        path: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Check every artifact of a run (or of all runs) against its checksum.
    Verify {
        /// Run id (default: every run).
        run_id: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an artifacts subcommand.
pub fn artifacts(args: ArtifactsArgs) -> Result<(), CliError> {
    let (store, loc) = args.store.open(OpenMode::MustExist)?;
    let store = store.as_ref();
    let blobs = hone_track::artifacts::BlobStore::open(&loc.artifacts).map_err(track_err)?;
    match args.cmd {
        ArtifactsCmd::List { run_id, json } => {
            store.get_run(&run_id).map_err(track_err)?;
            let list = store.list_artifacts(&run_id).map_err(track_err)?;
            if json {
                print_list(list, None);
            } else {
                for a in list {
                    println!(
                        "{:<40} {:>10} B  sha256 {}",
                        escape(&a.path),
                        a.size,
                        escape(&a.sha256)
                    );
                }
            }
        }
        ArtifactsCmd::Get { run_id, path, out } => {
            let list = store.list_artifacts(&run_id).map_err(track_err)?;
            let rec = list.iter().find(|a| a.path == path).ok_or_else(|| {
                CliError::usage(format!(
                    "run {run_id} has no artifact {path:?} (see `hone artifacts list {run_id}`)"
                ))
            })?;
            let bytes = blobs
                .get(&rec.sha256, &run_id, &rec.path)
                .map_err(track_err)?;
            match out {
                Some(p) => {
                    std::fs::write(&p, &bytes).map_err(|e| {
                        CliError::runtime(format!("cannot write {}: {e}", p.display()))
                    })?;
                    eprintln!(
                        "wrote {} ({} bytes, sha256 verified)",
                        p.display(),
                        bytes.len()
                    );
                }
                None => {
                    use std::io::Write;
                    std::io::stdout()
                        .write_all(&bytes)
                        .map_err(|e| CliError::runtime(e.to_string()))?;
                }
            }
        }
        ArtifactsCmd::Verify { run_id, json } => {
            let run_ids: Vec<String> = match run_id {
                Some(r) => vec![r],
                None => all_run_ids(store)?,
            };
            let mut checked = 0;
            let mut bad = Vec::new();
            for r in &run_ids {
                for a in store.list_artifacts(r).map_err(track_err)? {
                    checked += 1;
                    if let Err(e) = blobs.get(&a.sha256, r, &a.path) {
                        bad.push(e.to_string());
                    }
                }
            }
            if json {
                print_json(json!({"checked": checked, "failed": bad}));
            } else {
                println!("checked {checked} artifact(s): {} failed", bad.len());
                for b in &bad {
                    println!("  {b}");
                }
            }
            if !bad.is_empty() {
                return Err(CliError::runtime(format!(
                    "{} artifact(s) failed verification",
                    bad.len()
                )));
            }
        }
    }
    Ok(())
}

fn all_run_ids(store: &dyn Store) -> Result<Vec<String>, CliError> {
    let ids: Vec<String> = store
        .list_experiments(ViewType::All)
        .map_err(track_err)?
        .into_iter()
        .map(|e| e.experiment_id)
        .collect();
    let request = SearchRequest {
        experiment_ids: ids,
        max_results: 50_000,
        view: ViewType::All,
        ..Default::default()
    };
    hone_track::search_all(store, request)
        .map(|r| r.map(|r| r.info.run_id).map_err(track_err))
        .collect()
}

/// `hone gc`
#[derive(Args, Debug)]
pub struct GcArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only report what would be removed.
    #[arg(long)]
    dry_run: bool,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Removes artifact blobs no run or logged model refers to.
pub fn gc(args: GcArgs) -> Result<(), CliError> {
    let (store, loc) = args.store.open(OpenMode::MustExist)?;
    let blobs = hone_track::artifacts::BlobStore::open(&loc.artifacts).map_err(track_err)?;
    let report = retention::gc(store.as_ref(), &blobs, args.dry_run).map_err(track_err)?;
    if args.json {
        print_json(json!(report));
    } else {
        let verb = if args.dry_run { "would free" } else { "freed" };
        println!(
            "{} blob(s) on disk, {} unreferenced: {verb} {} bytes (blobs younger than {} s are kept)",
            report.blobs,
            report.unreferenced,
            report.bytes,
            retention::GC_GRACE_SECS
        );
    }
    Ok(())
}

/// `hone compare`
#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// First run (a `hone train` parent run), or a registry reference (`models:/NAME/3`,
    /// `models:/NAME/1.4.0`, `models:/NAME@alias`, or bare `NAME/3`, `NAME@alias`): its
    /// version's source run.
    run_a: String,
    /// Second run (or registry reference).
    run_b: String,
    /// Which predictions to compare: holdout or oof (out-of-fold).
    #[arg(long, default_value = "holdout")]
    on: String,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Compares two tracked runs on the same rows with the tests that fit their task.
pub fn compare_runs(args: CompareArgs) -> Result<(), CliError> {
    let (store, loc) = args.store.open(OpenMode::MustExist)?;
    let blobs = hone_track::artifacts::BlobStore::open(&loc.artifacts).map_err(track_err)?;
    let on = hone_train::compare::CompareOn::parse(&args.on)?;
    let (run_a, version_a) =
        hone_train::registry::run_of_argument(store.as_ref(), &args.run_a).map_err(track_err)?;
    let (run_b, version_b) =
        hone_train::registry::run_of_argument(store.as_ref(), &args.run_b).map_err(track_err)?;
    let c =
        hone_train::compare::compare_runs(store.as_ref(), &blobs, &run_a, &run_b, on, args.seed)
            .map_err(|e| match e {
                hone_train::TrainError::Track(e) => track_err(e),
                e => e.into(),
            })?;
    if args.json {
        let v: Vec<serde_json::Value> = c
            .tests
            .iter()
            .map(|t| {
                let r = &t.result;
                let mut v = json!({"test": r.test, "statistic": r.statistic, "p_value": r.p_value, "effect": r.effect, "meaning": t.meaning});
                for (k, x) in &r.details {
                    v[k.as_str()] = json!(x);
                }
                v
            })
            .collect();
        let mut out = json!({"run_a": run_a, "run_b": run_b, "on": args.on, "rows": c.rows,
                   "task": c.task.kind(), "identical_predictions": c.identical_predictions, "tests": v});
        if let Some(mv) = &version_a {
            out["model_version_a"] = hone_train::registry::version_json(&args.run_a, mv);
        }
        if let Some(mv) = &version_b {
            out["model_version_b"] = hone_train::registry::version_json(&args.run_b, mv);
        }
        print_json(out);
    } else {
        let name = |arg: &str, v: &Option<hone_track::ModelVersion>| match v {
            Some(v) => hone_train::registry::describe(arg, v),
            None => arg.to_string(),
        };
        println!(
            "comparing {} (A) and {} (B) on {} {} rows ({} task)",
            name(&args.run_a, &version_a),
            name(&args.run_b, &version_b),
            c.rows,
            args.on,
            c.task.kind()
        );
        if c.identical_predictions {
            println!(
                "  identical predictions: A and B predict every row the same, so no test can find a difference"
            );
        }
        for t in &c.tests {
            let r = &t.result;
            println!(
                "  {:<20} statistic {:>11}  p {:>11}  {}",
                r.test,
                fmt_value(r.statistic),
                fmt_value(r.p_value),
                t.meaning
            );
        }
    }
    Ok(())
}
