//! `hone models ...`: the model registry from the command line (first slice: register, list,
//! show, aliases, delete a version). Registration and reference parsing live in
//! `hone_train::registry`; the rest are single `hone_track::Registry` calls.

use clap::{Args, Subcommand};
use hone_track::keys::LINEAGE_PREFIX;
use hone_track::{ModelVersion, OpenMode, RegisteredModel};
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
        /// Semantic version X.Y.Z, greater than every earlier one [default: 1.0.0 for the
        /// first version, else the latest with its patch number bumped].
        #[arg(long = "version", value_name = "X.Y.Z")]
        semver: Option<String>,
        /// Free text (the model's description when this creates it; kept on the version).
        #[arg(long, default_value = "")]
        description: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// List registered models.
    List {
        /// Only models whose name starts with this.
        #[arg(long, default_value = "")]
        prefix: String,
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
    println!("  stage     {}", v.current_stage.as_str());
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

/// Runs a models subcommand.
pub fn models(args: ModelsArgs) -> Result<(), CliError> {
    // Only registering writes something new; the others never leave a new store behind.
    let mode = match args.cmd {
        ModelsCmd::Register { .. } => OpenMode::Create,
        _ => OpenMode::MustExist,
    };
    let (store, _) = args.store.open(mode)?;
    let store = store.as_ref();
    match args.cmd {
        ModelsCmd::Register {
            run_id,
            name,
            semver,
            description,
            json,
        } => {
            let v = hone_train::registry::register(
                store,
                &run_id,
                &name,
                semver.as_deref(),
                &description,
            )
            .map_err(track_err)?;
            if json {
                print_json(version_json(&v));
            } else {
                println!("registered {}", escape(&label(&v)));
            }
        }
        ModelsCmd::List { prefix, json } => {
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
            match hone_train::registry::ModelRef::parse(&reference).map_err(track_err)? {
                hone_train::registry::ModelRef::Model(name) => {
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
                            "{:>8} {:<12} {:<34} {:<10} created",
                            "version", "semver", "run", "stage"
                        );
                        for v in &versions {
                            println!(
                                "{:>8} {:<12} {:<34} {:<10} {}",
                                v.version,
                                escape(v.semver.as_deref().unwrap_or("-")),
                                v.source_run_id,
                                v.current_stage.as_str(),
                                ms_to_utc(v.creation_time)
                            );
                        }
                    }
                }
                _ => {
                    let v = hone_train::registry::resolve(store, &reference).map_err(track_err)?;
                    if json {
                        print_json(version_json(&v));
                    } else {
                        print_version(&v);
                    }
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
