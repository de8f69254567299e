//! `hone retrain`: simulate retraining policies on history and compare them.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use crate::CliError;

/// `hone retrain`.
#[derive(Args, Debug)]
pub struct RetrainArgs {
    /// The job's config file (TOML).
    pub config: PathBuf,
    /// Retraining periods to compare, in timestamps (bars), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "21,63,252")]
    pub every: Vec<usize>,
    /// Training window of each retrain: `expanding` or `rolling:N` (the last N timestamps).
    #[arg(long, default_value = "expanding")]
    pub window: String,
    /// Share of the timestamps used as history before the simulation starts.
    #[arg(long, default_value_t = 0.5)]
    pub start: f64,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Do not record the simulation in the tracking store.
    #[arg(long)]
    pub no_track: bool,
    /// Override a config key (repeatable): KEY=VALUE.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub store: crate::tracking::StoreArgs,
}

/// Runs `hone retrain`.
pub fn retrain(args: RetrainArgs) -> Result<(), CliError> {
    let cfg = crate::commands::load_config(&args.config, &args.set)?;
    let window = args
        .window
        .parse::<hone_train::retrain::Window>()
        .map_err(CliError::usage)?;
    let spec = hone_train::retrain::RetrainSpec {
        every: args.every.clone(),
        window,
        start: args.start,
    };
    let tty = std::io::stderr().is_terminal() && !args.json;
    let every = args.every.clone();
    let mut last_policy = usize::MAX;
    let mut progress = |p: hone_train::retrain::RetrainProgress| {
        if args.json {
            return;
        }
        if tty {
            eprint!(
                "\rretrain every {:>4}: model {}/{}   ",
                every[p.policy], p.done, p.total
            );
            if p.done == p.total {
                eprintln!();
            }
        } else if p.policy != last_policy {
            last_policy = p.policy;
            eprintln!("retrain every {}: {} models", every[p.policy], p.total);
        }
    };
    let (report, run_id) = if args.no_track {
        (
            hone_train::retrain::run_retrain(&cfg, &spec, &mut progress)?,
            None,
        )
    } else {
        let loc = args.store.location()?;
        let tracker = hone_track::Tracker::open_uri(&loc.store_uri, &loc.artifacts)
            .map_err(crate::tracking::track_err)?;
        let (r, id) =
            hone_train::retrain::run_retrain_tracked(&cfg, &spec, &tracker, &mut progress)?;
        (r, Some(id))
    };
    if args.json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        if let Some(id) = &run_id {
            v["run_id"] = serde_json::json!(id);
        }
        println!("{v}");
        return Ok(());
    }
    print!("{}", render(&report));
    if let Some(id) = run_id {
        println!("tracked as run {id}");
    }
    Ok(())
}

/// The policy comparison as a table.
fn render(r: &hone_train::retrain::RetrainReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    let _ = writeln!(
        s,
        "\nretraining policies of {} ({} window), simulated {} .. {} ({} timestamps out of sample)",
        r.name, r.window, r.start, r.end, r.timestamps
    );
    let panel = r.policies.iter().any(|p| p.cross_section.is_some());
    let _ = writeln!(
        s,
        "{:>7} {:>7} {:>9} {:>9} {:>8} {:>8} {:>9} {:>10} {:>9} {:>16} {:>8}",
        "every",
        "models",
        if panel { "IC" } else { "metric" },
        if panel { "rank IC" } else { "" },
        "ICIR",
        "Sharpe",
        "turn/yr",
        "agreement",
        "loss",
        "DM vs most freq.",
        "seconds"
    );
    for p in &r.policies {
        let cs = p.cross_section.as_ref();
        let ic = cs.and_then(|c| c.ic.as_ref()).map(|i| i.mean);
        let rank = cs.and_then(|c| c.rank_ic.as_ref());
        let first_metric = p.metrics.iter().next().map(|(_, v)| *v);
        let f = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
        let _ = writeln!(
            s,
            "{:>7} {:>7} {:>9} {:>9} {:>8} {:>8} {:>9} {:>10} {:>9} {:>16} {:>8.1}",
            p.every,
            p.retrains,
            f(if panel { ic } else { first_metric }, 4),
            if panel {
                f(rank.map(|r| r.mean), 4)
            } else {
                String::new()
            },
            f(rank.map(|r| r.icir), 3),
            f(p.trading.as_ref().map(|t| t.metrics.sharpe), 3),
            f(p.portfolio.as_ref().map(|q| q.turnover), 1),
            f(p.model_agreement, 3),
            format!("{:.5}", p.mean_loss),
            p.dm_vs_most_frequent
                .map_or("(baseline)".to_string(), |(d, pv)| format!(
                    "{d:+.2} (p={pv:.3})"
                )),
            p.seconds
        );
    }
    if !panel && let Some(p) = r.policies.first() {
        let _ = writeln!(
            s,
            "metric: {}",
            p.metrics.keys().next().cloned().unwrap_or_default()
        );
    }
    let _ = writeln!(
        s,
        "agreement: mean rank correlation of each model's predictions with its predecessor's on \
         the same rows; DM: Diebold–Mariano (HLN) on per-timestamp losses, negative = lower \
         loss than retraining most often"
    );
    s
}
