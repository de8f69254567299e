//! `hone`: the command-line tool. Each subcommand is a thin layer over a library crate; errors
//! become one line on stderr and a non-zero exit code (2: bad config or usage, 1: anything else,
//! 70: an internal error, i.e. a bug in hone).
// Library policy (ARCHITECTURE.md, invariant 14): no unwrap on data from a user or a file.
#![warn(clippy::unwrap_used)]

mod commands;
mod jobs;
mod models;
mod progress;
mod render;
mod retrain;
mod server;
mod stats;
mod study;
mod tracking;
mod tune;
mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// hone: leak-free model training for quantitative research.
#[derive(Parser, Debug)]
#[command(
    name = "hone",
    version,
    about = "hone: leak-free model training for quantitative research",
    after_help = "Examples:\n  hone train examples/sp500_direction.toml\n  hone split examples/sp500_direction.toml\n  hone split --scheme timeseries --n-samples 20 --n-splits 4 --gap 1 --json\n  hone metrics --task binary --input runs/<run>/holdout_predictions.csv\n  hone predict --model runs/<run> --data new_prices.csv --out predictions.csv\n  hone init my_prices.csv --template direction --out my.toml\n  hone tune examples/sp500_direction_tune.toml --jobs 2 --set search.n_trials=10\n  hone export runs/<run> --features features.parquet\n  hone study ask --name my-study --json\n\nExit codes: 0 success, 1 data or runtime error, 2 bad config or usage, 3 a hard quality gate failed, 70 internal error (a bug: please report it), 130 interrupted (Ctrl-C)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Cross-validate a pipeline on a data file, score the holdout once, refit and save it.
    Train(commands::TrainArgs),
    /// Show the folds of a split scheme without training.
    Split(commands::SplitArgs),
    /// Compute metrics of external predictions (scikit-learn's names and semantics).
    Metrics(commands::MetricsArgs),
    /// Apply a trained model directory to a data file.
    Predict(commands::PredictArgs),
    /// Score a trained model on labelled data: metrics, trading, drift, gates.
    Evaluate(commands::EvaluateArgs),
    /// Manage experiments in the tracking store.
    Experiments(tracking::ExperimentsArgs),
    /// List, show, search, compare, delete, restore, reap, prune and purge runs.
    Runs(tracking::RunsArgs),
    /// List, fetch and verify run artifacts.
    Artifacts(tracking::ArtifactsArgs),
    /// Model registry: register runs as model versions, list, show, aliases, delete versions.
    Models(models::ModelsArgs),
    /// Remove artifact blobs that no run or logged model refers to.
    Gc(tracking::GcArgs),
    /// Trading metrics, PSR, DSR, PBO and model comparison tests on data from any source.
    Stats(stats::StatsArgs),
    /// Data drift between a reference and a current file (Evidently's default tests).
    Drift(stats::DriftArgs),
    /// Compare two tracked runs on the same rows with the tests that fit their task.
    Compare(tracking::CompareArgs),
    /// Hyperparameter search over a training config's [search] space; refits the best.
    Tune(tune::TuneArgs),
    /// Ask/tell hyperparameter studies for any program: create, ask, tell, report, best, trials.
    Study(study::StudyArgs),
    /// Serve MLflow's tracking REST API over the store (loopback, or anywhere with --auth).
    Server(server::ServerArgs),
    /// Users, API tokens and permissions of `hone server --auth`.
    Users(users::UsersArgs),
    /// Write a commented starter config for your data file (detects time, price, volume).
    Init(commands::InitArgs),
    /// Write the exact feature matrix a trained model saw (after its transforms) as Parquet.
    Export(commands::ExportArgs),
    /// Simulate retraining policies on history (every N bars, expanding or rolling window)
    /// and compare their out-of-sample IC, backtest and losses.
    Retrain(retrain::RetrainArgs),
    /// Queue a train or tune job (or a distributed LightGBM job) for workers; prints its id.
    Submit(jobs::SubmitArgs),
    /// Queued jobs: list (waiting and run times), show, logs, cancel, retry.
    Jobs(jobs::JobsArgs),
    /// Claim and run queued jobs (many workers on many machines share one store).
    Worker(jobs::WorkerArgs),
    /// Run one claimed job (started by `hone worker`).
    #[command(hide = true)]
    JobExec(jobs::JobExecArgs),
}

/// An error for the user: message and exit code.
pub struct CliError {
    /// Exit code: 1 runtime, 2 usage/config, 3 failed hard gate.
    pub code: u8,
    /// The one-line message.
    pub message: String,
}

impl CliError {
    /// A usage or config error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// A runtime error (exit code 1).
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<hone_train::TrainError> for CliError {
    fn from(e: hone_train::TrainError) -> Self {
        match e {
            hone_train::TrainError::Config(_) | hone_train::TrainError::Split(_) => {
                Self::usage(e.to_string())
            }
            _ => Self::runtime(e.to_string()),
        }
    }
}

/// Exit code of a panic: a bug in hone, never the user's input (sysexits' EX_SOFTWARE).
const INTERNAL_ERROR_EXIT: i32 = 70;

/// Replaces Rust's panic output (a multi-line message, and a backtrace under `RUST_BACKTRACE=1`)
/// with one line that says it is hone's fault, then exits with [`INTERNAL_ERROR_EXIT`] from
/// whichever thread panicked: a panic in a worker thread must not leave the others running on.
/// `HONE_BACKTRACE=1` adds the backtrace for a bug report.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "internal error: {}{place}; please report this (exit code {INTERNAL_ERROR_EXIT})",
            what.escape_debug()
        );
        if std::env::var_os("HONE_BACKTRACE").is_some_and(|v| v != "0") {
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
        }
        std::process::exit(INTERNAL_ERROR_EXIT);
    }));
}

/// Prints a command-line parsing error as one line (clap's own rendering spans several lines:
/// the error, a tip, the usage and a pointer to `--help`), exit code 2. Help and version requests
/// print as clap prints them.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let rendered = e.render().to_string();
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let line = parts.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    eprintln!("error: {line} (see --help)");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    install_panic_hook();
    // Lets the tests prove that a panic, on the main thread or a worker, ends in the one-line
    // internal error; it has no other use.
    if let Some(place) = std::env::var_os("HONE_DEBUG_PANIC") {
        if place == "thread" {
            let _ = std::thread::spawn(|| panic!("HONE_DEBUG_PANIC\nin a worker thread")).join();
        }
        panic!("HONE_DEBUG_PANIC");
    }
    // Die quietly on a closed pipe (`hone runs list | head`) instead of panicking.
    // SAFETY: restoring the default SIGPIPE disposition at start-up, before any thread exists.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Train(a) => commands::train(a),
        Command::Split(a) => commands::split(a),
        Command::Metrics(a) => commands::metrics(a),
        Command::Predict(a) => commands::predict(a),
        Command::Evaluate(a) => commands::evaluate(a),
        Command::Experiments(a) => tracking::experiments(a),
        Command::Runs(a) => tracking::runs(a),
        Command::Artifacts(a) => tracking::artifacts(a),
        Command::Models(a) => models::models(a),
        Command::Gc(a) => tracking::gc(a),
        Command::Stats(a) => stats::stats(a),
        Command::Drift(a) => stats::drift(a),
        Command::Compare(a) => tracking::compare_runs(a),
        Command::Study(a) => study::study(a),
        Command::Tune(a) => tune::tune(a),
        Command::Server(a) => server::server(a),
        Command::Users(a) => users::users(a),
        Command::Init(a) => commands::init(a),
        Command::Export(a) => commands::export(a),
        Command::Retrain(a) => retrain::retrain(a),
        Command::Submit(a) => jobs::submit(a),
        Command::Jobs(a) => jobs::jobs(a),
        Command::Worker(a) => jobs::worker(a),
        Command::JobExec(a) => jobs::job_exec(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Messages quote user input (names, cells, paths): escaped, they stay one line and
            // cannot drive the terminal.
            eprintln!("error: {}", render::escape(&e.message));
            ExitCode::from(e.code)
        }
    }
}
