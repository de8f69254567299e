//! `hone models ...`: the model registry from the command line. Each command is one call of
//! `hone_train::registry` (register, promote, rollback, compare, changelog, notes, history,
//! lineage) or of `hone_track::Registry` (list, show, aliases, delete a version), printed as a
//! table or, with `--json`, as data.

use clap::{Args, Subcommand};
use hone_track::keys::{self, LINEAGE_PREFIX};
use hone_track::{ModelVersion, OpenMode, RegisteredModel, Stage};
use hone_train::registry::{self as reg, changelog, lineage, promote};
use serde_json::json;

use crate::CliError;
use crate::render::{escape, ms_to_utc};
use crate::tracking::{StoreArgs, print_list, track_err};

/// `hone models ...`
#[derive(Args, Debug)]
pub struct ModelsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    cmd: ModelsCmd,
}

#[derive(Subcommand, Debug)]
enum ModelsCmd {
    /// Register a finished `hone train` / `hone tune` run as a new model version.
    Register {
        /// The run holding the model.
        run_id: String,
        /// The registered model (created if it does not exist).
        #[arg(long)]
        name: String,
        /// Semantic version X.Y.Z, greater than every earlier one [default: the bump rule:
        /// 1.0.0 first, then major for another feature set, target, task or horizon, minor for
        /// another model family, hyperparameters or preprocessing, patch for a retrain].
        #[arg(long = "version", value_name = "X.Y.Z")]
        semver: Option<String>,
        /// The parent version (number, X.Y.Z or @alias) [default: the production version].
        #[arg(long)]
        parent: Option<String>,
        /// Free text (the model's description when this creates it; kept on the version).
        #[arg(long, default_value = "")]
        description: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// List registered models, or with --dataset the versions trained on a dataset.
    List {
        /// Only models whose name starts with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// A dataset fingerprint (or its first 8+ characters): list every version trained on it.
        #[arg(long, value_name = "FINGERPRINT")]
        dataset: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show a model (NAME) or one version (NAME/3, NAME/1.4.0, NAME@alias, models:/...).
    Show {
        /// The reference.
        reference: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Promote a version to staging or production after its checks: its gates, re-evaluated
    /// on its stored metrics, and a significance test against production on shared holdout
    /// rows. Blocked (exit 3) unless both pass, or --force with --reason.
    Promote {
        /// The registered model.
        name: String,
        /// The version: a number, X.Y.Z or @alias.
        version: String,
        /// staging or production.
        #[arg(long)]
        stage: String,
        /// Promote even when a check fails (recorded, with --reason).
        #[arg(long)]
        force: bool,
        /// Why (required with --force; recorded in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
        /// Archive the versions the promotion displaces (MLflow's archive_existing_versions)
        /// instead of deprecating the replaced production version.
        #[arg(long)]
        archive_existing: bool,
        /// Significance level of the tests.
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
        /// Seed of the paired bootstrap.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Move production back to the previous production version (from the audit log), or to
    /// --to VERSION.
    Rollback {
        /// The registered model.
        name: String,
        /// The version to restore (number, X.Y.Z or @alias) [default: the previous production].
        #[arg(long)]
        to: Option<String>,
        /// Why (recorded in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Compare two versions: settings diff, metrics, and significance tests on their shared
    /// holdout rows.
    Compare {
        /// The registered model.
        name: String,
        /// The first version (A).
        v1: String,
        /// The second version (B).
        v2: String,
        /// Seed of the paired bootstrap.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The model's changelog (newest first), as Markdown or --json.
    Changelog {
        /// The registered model.
        name: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Add a note to the changelog.
    Note {
        /// The registered model.
        name: String,
        /// The note.
        text: String,
        /// The version it is about (number, X.Y.Z or @alias) [default: the whole model].
        #[arg(long)]
        version: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Walk a version's lineage back to the model's first version.
    Lineage {
        /// The version (NAME/3, NAME/1.4.0, NAME@production, models:/...).
        reference: String,
        /// JSON output (with each version's resolved config).
        #[arg(long)]
        json: bool,
    },
    /// Performance over time: each evaluation's metric and drift (`hone evaluate
    /// models:/NAME@production --data NEW.csv` records them).
    History {
        /// The registered model.
        name: String,
        /// The metric to follow [default: the first of the first evaluation].
        #[arg(long)]
        metric: Option<String>,
        /// Only this version's evaluations.
        #[arg(long)]
        version: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Set or delete an alias.
    Alias {
        #[command(subcommand)]
        cmd: AliasCmd,
    },
    /// Delete a version (refused while an alias points at it); its number is never reused.
    DeleteVersion {
        /// The registered model.
        name: String,
        /// The version number.
        version: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AliasCmd {
    /// Point ALIAS at VERSION (moving it if it pointed elsewhere).
    Set {
        /// The registered model.
        name: String,
        /// The alias (letters, digits, '_' and '-').
        alias: String,
        /// The version number.
        version: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove an alias.
    Delete {
        /// The registered model.
        name: String,
        /// The alias.
        alias: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

fn pairs_json(pairs: &[(String, String)]) -> serde_json::Map<String, serde_json::Value> {
    pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
}

/// A version as JSON: tags flat `{key: value}` as for runs, and the lineage tags again under
/// `lineage` without their `hone.lineage.` prefix.
fn version_json(v: &ModelVersion) -> serde_json::Value {
    let lineage: serde_json::Map<String, serde_json::Value> = v
        .tags
        .iter()
        .filter_map(|(k, x)| {
            k.strip_prefix(LINEAGE_PREFIX)
                .map(|k| (k.to_string(), json!(x)))
        })
        .collect();
    json!({
        "name": v.name,
        "version": v.version,
        "semver": v.semver,
        "source_run_id": v.source_run_id,
        "status": v.status,
        "current_stage": v.current_stage.as_str(),
        "description": v.description,
        "user_id": v.user_id,
        "stage": v.current_stage.name(),
        "creation_time": v.creation_time,
        "last_updated_time": v.last_updated_time,
        "tags": pairs_json(&v.tags),
        "aliases": v.aliases,
        "lineage": lineage,
    })
}

fn model_json(m: &RegisteredModel, latest: Option<&ModelVersion>) -> serde_json::Value {
    let aliases: serde_json::Map<String, serde_json::Value> = m
        .aliases
        .iter()
        .map(|(a, v)| (a.clone(), json!(v)))
        .collect();
    json!({
        "name": m.name,
        "description": m.description,
        "creation_time": m.creation_time,
        "last_updated_time": m.last_updated_time,
        "user_id": m.user_id,
        "tags": pairs_json(&m.tags),
        "aliases": aliases,
        "latest_version": latest.map(|v| v.version),
        "latest_semver": latest.and_then(|v| v.semver.clone()),
    })
}

fn print_json(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

fn label(v: &ModelVersion) -> String {
    match &v.semver {
        Some(s) => format!("{}/{} ({s})", v.name, v.version),
        None => format!("{}/{}", v.name, v.version),
    }
}

fn print_version(v: &ModelVersion) {
    println!("{}", escape(&label(v)));
    println!("  run       {}", v.source_run_id);
    println!("  stage     {}", v.current_stage.name());
    println!("  created   {}", ms_to_utc(v.creation_time));
    if !v.aliases.is_empty() {
        println!("  aliases   {}", escape(&v.aliases.join(", ")));
    }
    let (lineage, other): (Vec<_>, Vec<_>) = v
        .tags
        .iter()
        .partition(|(k, _)| k.starts_with(LINEAGE_PREFIX));
    if !lineage.is_empty() {
        println!("  lineage");
        for (k, x) in lineage {
            let k = k.strip_prefix(LINEAGE_PREFIX).unwrap_or(k);
            println!("    {:<16} {}", escape(k), escape(x));
        }
    }
    if !other.is_empty() {
        println!("  tags");
        for (k, x) in other {
            println!("    {} = {}", escape(k), escape(x));
        }
    }
}

fn train_err(e: hone_train::TrainError) -> CliError {
    match e {
        hone_train::TrainError::Track(e) => track_err(e),
        e => e.into(),
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), crate::render::num)
}

fn print_param_changes(params: &[reg::ParamChange]) {
    if params.is_empty() {
        println!("  no setting differs");
    }
    for p in params {
        println!(
            "  {:<40} {} -> {}  ({})",
            escape(&p.key),
            escape(p.before.as_deref().unwrap_or("(unset)")),
            escape(p.after.as_deref().unwrap_or("(unset)")),
            p.bump.name()
        );
    }
}

fn print_metric_changes(metrics: &[reg::MetricChange], a: &str, b: &str) {
    if metrics.is_empty() {
        return;
    }
    println!(
        "  {:<40} {:>14} {:>14} {:>14}",
        "metric", a, b, "difference"
    );
    for m in metrics {
        let diff = match (m.before, m.after) {
            (Some(x), Some(y)) => crate::render::num(y - x),
            _ => "-".into(),
        };
        println!(
            "  {:<40} {:>14} {:>14} {:>14}",
            escape(&m.key),
            num(m.before),
            num(m.after),
            diff
        );
    }
}

fn print_comparison(c: &hone_train::compare::Comparison) {
    for t in &c.tests {
        println!(
            "  {:<20} statistic {:>10} p {:>8.4}  {}",
            t.result.test,
            crate::render::num(t.result.statistic),
            t.result.p_value,
            t.meaning
        );
    }
}

fn print_check(check: &promote::PromotionCheck) {
    match &check.gates_note {
        Some(note) => println!("gates: {note}"),
        None => println!(
            "gates: {}",
            if check.gates_passed {
                "passed"
            } else {
                "FAILED"
            }
        ),
    }
    for g in &check.gates {
        println!("  {}", crate::render::gate_line(g));
    }
    match &check.significance {
        None => println!("significance: no production version to compare with"),
        Some(s) => {
            println!(
                "significance vs production version {}{} on {} shared holdout rows (A = \
                 production, B = candidate): {}",
                s.against,
                s.against_semver
                    .as_deref()
                    .map_or(String::new(), |v| format!(" ({v})")),
                s.shared_rows,
                if s.passed { "passed" } else { "FAILED" }
            );
            if let Some(c) = &s.comparison {
                print_comparison(c);
            }
            println!("  {}", s.verdict);
        }
    }
}

/// The parts of a version's lineage `hone models lineage` prints, in order.
const LINEAGE_SHOWN: &[(&str, &str)] = &[
    ("dataset", keys::LINEAGE_DATASET),
    ("fingerprint", keys::LINEAGE_FINGERPRINT),
    ("rows", keys::LINEAGE_ROWS),
    ("first row", keys::LINEAGE_FIRST_ROW),
    ("last row", keys::LINEAGE_LAST_ROW),
    ("task", keys::LINEAGE_TASK),
    ("features", keys::LINEAGE_FEATURES),
    ("config sha256", keys::LINEAGE_CONFIG_SHA256),
    ("model sha256", keys::LINEAGE_MODEL_SHA256),
    ("git commit", keys::LINEAGE_GIT_COMMIT),
    ("git dirty", keys::LINEAGE_GIT_DIRTY),
    ("dependencies", keys::LINEAGE_DEPENDENCIES),
];

/// Runs a models subcommand.
pub fn models(args: ModelsArgs) -> Result<(), CliError> {
    // Only registering writes something new; the others never leave a new store behind.
    let mode = match args.cmd {
        ModelsCmd::Register { .. } => OpenMode::Create,
        _ => OpenMode::MustExist,
    };
    let (store, loc) = args.store.open(mode)?;
    let store = store.as_ref();
    let blobs = || hone_track::artifacts::BlobStore::open(&loc.artifacts).map_err(track_err);
    match args.cmd {
        ModelsCmd::Register {
            run_id,
            name,
            semver,
            parent,
            description,
            json,
        } => {
            let req = reg::RegisterRequest {
                run_id: &run_id,
                name: &name,
                semver: semver.as_deref(),
                parent: parent.as_deref(),
                description: &description,
            };
            let r = reg::register(store, &req).map_err(track_err)?;
            if json {
                let mut v = version_json(&r.version);
                v["registration"] = serde_json::to_value(&r).unwrap_or_default();
                print_json(v);
            } else {
                let how = match (r.semver_given, r.bump) {
                    (true, _) => "semver given".to_string(),
                    (false, Some(b)) => format!(
                        "{} bump against version {}",
                        b.name(),
                        r.compared_with.unwrap_or(0)
                    ),
                    (false, None) => "first version".to_string(),
                };
                println!("registered {} ({how})", escape(&label(&r.version)));
                if let Some(p) = r.parent {
                    println!("  parent: version {p}");
                }
                if r.compared_with.is_some() {
                    print_param_changes(&r.params);
                }
                if r.gates_passed == Some(false) {
                    println!("  note: run {run_id} failed a hard gate; promotion will be blocked");
                }
            }
        }
        ModelsCmd::List {
            prefix,
            dataset: Some(fp),
            json,
        } => {
            let versions = lineage::versions_on_dataset(store, &fp).map_err(track_err)?;
            let versions: Vec<_> = versions
                .into_iter()
                .filter(|v| v.name.starts_with(&prefix))
                .collect();
            if json {
                print_list(versions.iter().map(version_json).collect::<Vec<_>>(), None);
            } else {
                println!(
                    "{:<32} {:>8} {:<12} {:<12} {:<34} fingerprint",
                    "name", "version", "semver", "stage", "run"
                );
                for v in &versions {
                    println!(
                        "{:<32} {:>8} {:<12} {:<12} {:<34} {}",
                        escape(&v.name),
                        v.version,
                        escape(v.semver.as_deref().unwrap_or("-")),
                        v.current_stage.name(),
                        v.source_run_id,
                        escape(lineage::lineage_of(v, keys::LINEAGE_FINGERPRINT).unwrap_or("-"))
                    );
                }
                if versions.is_empty() {
                    println!("(no version was trained on dataset {})", escape(&fp));
                }
            }
        }
        ModelsCmd::List {
            prefix,
            dataset: None,
            json,
        } => {
            let models = store.list_registered_models(&prefix).map_err(track_err)?;
            let mut rows = Vec::with_capacity(models.len());
            for m in models {
                let versions = store.list_model_versions(&m.name).map_err(track_err)?;
                let latest = versions.last().cloned();
                rows.push((m, versions.len(), latest));
            }
            if json {
                let items: Vec<_> = rows
                    .iter()
                    .map(|(m, n, l)| {
                        let mut v = model_json(m, l.as_ref());
                        v["versions"] = json!(n);
                        v
                    })
                    .collect();
                print_list(items, None);
            } else {
                println!(
                    "{:<32} {:>8} {:<16} {:<24} updated",
                    "name", "versions", "latest", "aliases"
                );
                for (m, n, l) in rows {
                    let latest = l.map_or_else(
                        || "-".to_string(),
                        |v| match &v.semver {
                            Some(s) => format!("{} ({s})", v.version),
                            None => v.version.to_string(),
                        },
                    );
                    let aliases: Vec<String> =
                        m.aliases.iter().map(|(a, v)| format!("{a}->{v}")).collect();
                    println!(
                        "{:<32} {:>8} {:<16} {:<24} {}",
                        escape(&m.name),
                        n,
                        escape(&latest),
                        escape(&aliases.join(",")),
                        ms_to_utc(m.last_updated_time)
                    );
                }
            }
        }
        ModelsCmd::Show { reference, json } => {
            match reg::ModelRef::parse(&reference).map_err(track_err)? {
                reg::ModelRef::Model(name) => {
                    let m = store.get_registered_model(&name).map_err(track_err)?;
                    let versions = store.list_model_versions(&name).map_err(track_err)?;
                    if json {
                        let vs: Vec<_> = versions.iter().map(version_json).collect();
                        print_json(json!({"model": model_json(&m, versions.last()),
                                          "versions": vs}));
                    } else {
                        println!("{}", escape(&m.name));
                        if !m.description.is_empty() {
                            println!("  {}", escape(&m.description));
                        }
                        println!("  created   {}", ms_to_utc(m.creation_time));
                        for (a, v) in &m.aliases {
                            println!("  @{} -> {v}", escape(a));
                        }
                        println!(
                            "{:>8} {:<12} {:<34} {:<12} created",
                            "version", "semver", "run", "stage"
                        );
                        for v in &versions {
                            println!(
                                "{:>8} {:<12} {:<34} {:<12} {}",
                                v.version,
                                escape(v.semver.as_deref().unwrap_or("-")),
                                v.source_run_id,
                                v.current_stage.name(),
                                ms_to_utc(v.creation_time)
                            );
                        }
                    }
                }
                _ => {
                    let v = reg::resolve(store, &reference).map_err(track_err)?;
                    if json {
                        print_json(version_json(&v));
                    } else {
                        print_version(&v);
                    }
                }
            }
        }
        ModelsCmd::Promote {
            name,
            version,
            stage,
            force,
            reason,
            archive_existing,
            alpha,
            seed,
            json,
        } => {
            let stage = Stage::parse(&stage).map_err(|_| {
                CliError::usage(format!("--stage {stage:?}: expected staging or production"))
            })?;
            let req = promote::PromoteRequest {
                name: &name,
                version: &version,
                stage,
                force,
                reason: &reason,
                archive_existing,
                alpha,
                seed,
                user: None,
            };
            let p = promote::promote(store, &blobs()?, &req).map_err(train_err)?;
            if json {
                let mut v = serde_json::to_value(&p).unwrap_or_default();
                v["version"] = version_json(&p.version);
                print_json(v);
            } else {
                println!(
                    "promote {} from {} to {}",
                    escape(&label(&p.version)),
                    p.from,
                    p.to
                );
                print_check(&p.check);
                if p.applied {
                    println!(
                        "{} {} is now in {}{}{}",
                        if p.forced { "FORCED:" } else { "promoted:" },
                        escape(&label(&p.version)),
                        p.to,
                        p.replaced
                            .map_or(String::new(), |r| format!(" (replacing version {r})")),
                        if p.forced {
                            format!("; override recorded with reason {:?}", reason)
                        } else {
                            String::new()
                        }
                    );
                }
            }
            if !p.applied {
                return Err(CliError {
                    code: 3,
                    message: format!(
                        "promotion of {}/{} to {} blocked: {}; nothing changed (override with \
                         --force --reason \"...\")",
                        name,
                        p.version.version,
                        p.to,
                        blocked_because(&p.check)
                    ),
                });
            }
        }
        ModelsCmd::Rollback {
            name,
            to,
            reason,
            json,
        } => {
            let r = promote::rollback(store, &name, to.as_deref(), &reason).map_err(train_err)?;
            if json {
                print_json(json!({"name": name, "from": r.from, "to": r.to,
                                  "semver": r.to_semver}));
            } else {
                println!(
                    "rolled back {}: production is version {}{} again (version {} deprecated)",
                    escape(&name),
                    r.to,
                    r.to_semver
                        .as_deref()
                        .map_or(String::new(), |s| format!(" ({s})")),
                    r.from
                );
            }
        }
        ModelsCmd::Compare {
            name,
            v1,
            v2,
            seed,
            json,
        } => {
            let (a, b, c) =
                promote::compare(store, &blobs()?, &name, &v1, &v2, seed).map_err(train_err)?;
            if json {
                let mut v = serde_json::to_value(&c).unwrap_or_default();
                v["a"] = version_json(&a);
                v["b"] = version_json(&b);
                print_json(v);
            } else {
                println!("A = {}, B = {}", escape(&label(&a)), escape(&label(&b)));
                println!("settings (A -> B):");
                print_param_changes(&c.params);
                println!("metrics:");
                print_metric_changes(&c.metrics, "A", "B");
                match (&c.comparison, &c.note) {
                    (Some(cmp), _) => {
                        println!("tests on {} shared holdout rows:", c.shared_rows);
                        print_comparison(cmp);
                    }
                    (None, Some(note)) => println!("tests: {}", escape(note)),
                    (None, None) => {}
                }
            }
        }
        ModelsCmd::Changelog { name, json } => {
            let entries = changelog::changelog(store, &name).map_err(track_err)?;
            if json {
                print_list(&entries, None);
            } else {
                print!(
                    "{}",
                    changelog::changelog_markdown(&name, &entries, ms_to_utc)
                );
            }
        }
        ModelsCmd::Note {
            name,
            text,
            version,
            json,
        } => {
            let e =
                changelog::add_note(store, &name, version.as_deref(), &text).map_err(track_err)?;
            if json {
                print_json(json!({"name": name, "id": e.id, "version": e.version,
                                  "time": e.time, "user": e.user_id, "note": e.reason}));
            } else {
                println!(
                    "noted on {}{}",
                    escape(&name),
                    e.version.map_or(String::new(), |v| format!("/{v}"))
                );
            }
        }
        ModelsCmd::Lineage { reference, json } => {
            let v = reg::resolve(store, &reference).map_err(track_err)?;
            let (chain, missing) = lineage::lineage_chain(store, v).map_err(track_err)?;
            if json {
                let b = blobs()?;
                let items: Vec<_> = chain
                    .iter()
                    .map(|v| {
                        let mut j = version_json(v);
                        j["config"] = json!(resolved_config(store, &b, &v.source_run_id));
                        j
                    })
                    .collect();
                print_json(json!({"reference": reference, "chain": items,
                                  "missing_parent": missing}));
            } else {
                for (i, v) in chain.iter().enumerate() {
                    if i > 0 {
                        println!("  ^ parent");
                    }
                    println!(
                        "{} · {} · run {}",
                        escape(&label(v)),
                        v.current_stage.name(),
                        v.source_run_id
                    );
                    for (what, key) in LINEAGE_SHOWN {
                        if let Some(x) = lineage::lineage_of(v, key) {
                            println!("    {what:<14} {}", escape(x));
                        }
                    }
                }
                if let Some(m) = missing {
                    println!("  ^ parent: {} (deleted)", escape(&m));
                }
            }
        }
        ModelsCmd::History {
            name,
            metric,
            version,
            json,
        } => {
            let h = changelog::history(store, &name, version.as_deref(), metric.as_deref())
                .map_err(track_err)?;
            if json {
                print_json(serde_json::to_value(&h).unwrap_or_default());
            } else {
                let m = h.metric.clone().unwrap_or_else(|| "-".into());
                println!(
                    "{:<20} {:>8} {:<24} {:>7} {:>14} {:>8} {:<6} data",
                    "evaluated",
                    "version",
                    "period",
                    "rows",
                    escape(&m),
                    "drift",
                    "gates"
                );
                for e in &h.evaluations {
                    let value = h
                        .metric
                        .as_ref()
                        .and_then(|m| e.metrics.get(m).or_else(|| e.trading.get(m)))
                        .copied();
                    println!(
                        "{:<20} {:>8} {:<24} {:>7} {:>14} {:>7.0}% {:<6} {}",
                        ms_to_utc(e.time),
                        e.version,
                        escape(&format!("{}..{}", e.period.0, e.period.1)),
                        e.rows,
                        num(value),
                        e.drift_share * 100.0,
                        if e.gates_passed { "pass" } else { "FAIL" },
                        escape(&e.data)
                    );
                }
                if h.evaluations.is_empty() {
                    println!(
                        "(no evaluations yet: hone evaluate models:/{}@production --data NEW.csv)",
                        escape(&name)
                    );
                }
                for w in &h.warnings {
                    println!("warning: {}", escape(w));
                }
            }
        }
        ModelsCmd::Alias {
            cmd:
                AliasCmd::Set {
                    name,
                    alias,
                    version,
                    json,
                },
        } => {
            store.set_alias(&name, &alias, version).map_err(track_err)?;
            if json {
                print_json(json!({"name": name, "alias": alias, "version": version}));
            } else {
                println!("{}@{} -> {version}", escape(&name), escape(&alias));
            }
        }
        ModelsCmd::Alias {
            cmd: AliasCmd::Delete { name, alias, json },
        } => {
            store.delete_alias(&name, &alias).map_err(track_err)?;
            if json {
                print_json(json!({"name": name, "alias": alias, "deleted": true}));
            } else {
                println!("deleted alias {}@{}", escape(&name), escape(&alias));
            }
        }
        ModelsCmd::DeleteVersion {
            name,
            version,
            json,
        } => {
            store
                .delete_model_version(&name, version)
                .map_err(track_err)?;
            if json {
                print_json(json!({"name": name, "version": version, "deleted": true}));
            } else {
                println!("deleted {}/{version}", escape(&name));
            }
        }
    }
    Ok(())
}

/// Why a promotion was blocked, in one line.
fn blocked_because(check: &promote::PromotionCheck) -> String {
    let mut why = Vec::new();
    let failed = hone_train::gates::failed_hard(&check.gates);
    if !failed.is_empty() {
        why.push(format!("hard gate(s) failed: {}", failed.join("; ")));
    }
    if let Some(s) = check.significance.as_ref().filter(|s| !s.passed) {
        why.push(s.verdict.clone());
    }
    why.join("; ")
}

/// The resolved config a version's run trained with (its `config.toml` artifact), or why it
/// cannot be read.
fn resolved_config(
    store: &dyn hone_track::Backend,
    blobs: &hone_track::artifacts::BlobStore,
    run_id: &str,
) -> String {
    let read = || -> Result<String, String> {
        let arts = store.list_artifacts(run_id).map_err(|e| e.to_string())?;
        let rec = arts
            .iter()
            .find(|a| a.path == "config.toml")
            .ok_or("no config.toml artifact")?;
        let bytes = blobs
            .get(&rec.sha256, run_id, &rec.path)
            .map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map_err(|e| e.to_string())
    };
    read().unwrap_or_else(|e| format!("(unreadable: {e})"))
}
