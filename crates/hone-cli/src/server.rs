//! `hone server`: MLflow's tracking REST API over the store (a thin call into `hone_server`).

use std::io::Write as _;

use clap::{Args, ValueEnum};

use crate::CliError;
use crate::tracking::StoreArgs;

/// How `hone server` writes its logs (to stderr).
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// What users may do on resources nobody granted them anything on.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum DefaultPermissionArg {
    /// Get, search, download (MLflow's default).
    Read,
    /// Also write.
    Edit,
    /// Also delete.
    Manage,
    /// Nothing: only explicit grants count.
    None,
}

/// `hone server [--host 127.0.0.1] [--port 5000] [--store URI] [--artifacts URI]
/// [--log-format text|json] [--auth [--default-permission P]] [--allowed-host H]...
/// [--allow-origin O]...` (log level: `HONE_LOG`, `info` by default)
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Address to bind: a loopback address, or any address with --auth.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Require authentication: a token (MLFLOW_TRACKING_TOKEN) or a user's password
    /// (MLFLOW_TRACKING_USERNAME/PASSWORD) on every request, checked against per-experiment
    /// and per-model permissions. Needs an administrator (`hone users add NAME --admin`).
    #[arg(long)]
    auth: bool,
    /// With --auth: what users may do where nobody granted them anything.
    #[arg(long, value_enum, default_value = "read", requires = "auth")]
    default_permission: DefaultPermissionArg,
    /// Another host name clients may use in `Host` (the name of this machine behind a
    /// proxy or DNS); repeat for several. Loopback names and --host are always allowed, and
    /// any IP address when --host is 0.0.0.0 or ::.
    #[arg(long, value_name = "HOST")]
    allowed_host: Vec<String>,
    /// An origin (scheme://host[:port]) whose browser pages may call the server; repeat
    /// for several. Other cross-origin requests are refused.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// Port (0: any free port; the line printed at start says which).
    #[arg(long, default_value_t = 5000)]
    port: u16,
    /// Log format on stderr: one line per request (method, route, status, latency); the
    /// level comes from HONE_LOG (off, error, warn, info, debug, trace; default info).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormatArg,
    /// Seconds a run created through the API may go without a write (any log, tag or update
    /// counts) before the server marks it KILLED: its client has died.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    run_timeout: u64,
    /// Job workers run inside the server (slots of one embedded `hone worker`): a single
    /// machine gets a queue with no other process. 0: none.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=256))]
    workers: u64,
    #[command(flatten)]
    store: StoreArgs,
}

/// Set when the server has stopped: the embedded workers stop claiming and end.
static WORKERS_STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Serves the store until Ctrl-C or SIGTERM.
pub fn server(args: ServerArgs) -> Result<(), CliError> {
    let level = hone_server::log_level(std::env::var("HONE_LOG").ok().as_deref())
        .map_err(|e| CliError::usage(e.to_string()))?;
    hone_server::init_logging(
        match args.log_format {
            LogFormatArg::Text => hone_server::LogFormat::Text,
            LogFormatArg::Json => hone_server::LogFormat::Json,
        },
        level,
    );
    let location = args.store.location()?;
    let config = hone_server::ServerConfig {
        host: args.host,
        port: args.port,
        store_uri: location.store_uri,
        artifacts_uri: location.artifacts.clone(),
        run_timeout: std::time::Duration::from_secs(args.run_timeout),
        auth: args.auth,
        default_permission: match args.default_permission {
            DefaultPermissionArg::Read => Some(hone_track::accounts::Level::Read),
            DefaultPermissionArg::Edit => Some(hone_track::accounts::Level::Edit),
            DefaultPermissionArg::Manage => Some(hone_track::accounts::Level::Manage),
            DefaultPermissionArg::None => None,
        },
        allowed_hosts: args.allowed_host,
        allowed_origins: args.allow_origin,
    };
    let analyses: std::sync::Arc<dyn hone_server::analyses::Analyses> =
        std::sync::Arc::new(TrainAnalyses);
    let worker_options = match args.workers {
        0 => None,
        n => Some(hone_train::worker::WorkerOptions {
            store_uri: config.store_uri.clone(),
            artifacts: location.artifacts.clone(),
            worker_id: format!("server-{}", hone_train::worker::default_worker_id()),
            labels: Vec::new(),
            slots: n as usize,
            once: false,
            lease_ttl: std::time::Duration::from_secs(60),
            poll: std::time::Duration::from_secs(1),
            gather_timeout: std::time::Duration::from_secs(60),
            grace: std::time::Duration::from_secs(10),
            advertise_host: hone_train::worker::advertise_host(),
            work_dir: std::env::temp_dir().join("hone-worker"),
            program: std::env::current_exe()
                .map_err(|e| CliError::runtime(format!("cannot find the hone binary: {e}")))?,
            program_args: vec!["job-exec".into()],
        }),
    };
    let mut workers: Option<std::thread::JoinHandle<()>> = None;
    let served = hone_server::run(&config, Some(analyses), |address, store| {
        println!(
            "hone server listening on http://{address} (store {store}, artifacts {})",
            location.artifacts
        );
        // Workers start once the server is up (a server that cannot bind runs no jobs).
        if let Some(opts) = worker_options {
            eprintln!(
                "{} job worker slot(s) inside the server ({})",
                opts.slots, opts.worker_id
            );
            workers = Some(std::thread::spawn(move || {
                let say = |line: &str| eprintln!("{}", crate::render::escape(line));
                if let Err(e) = hone_train::worker::run_worker(&opts, &WORKERS_STOP, &say) {
                    eprintln!("error: the embedded workers stopped: {e}");
                }
            }));
        }
        // Scripts and tests read this line to learn the port: send it now.
        let _ = std::io::stdout().flush();
    });
    // The server stopped (SIGTERM, Ctrl-C): running jobs get the grace period, then go back
    // to the queue.
    WORKERS_STOP.store(true, std::sync::atomic::Ordering::SeqCst);
    if let Some(w) = workers {
        let _ = w.join();
    }
    served.map_err(|e| match e {
        hone_server::ServerError::NotLoopback(_)
        | hone_server::ServerError::NoAdmin
        | hone_server::ServerError::BadOrigin(_) => CliError::usage(e.to_string()),
        _ => CliError::runtime(e.to_string()),
    })
}

/// The dashboard's rows of `hone runs compare`'s tests.
fn test_rows(tests: Vec<hone_train::compare::ComparedTest>) -> Vec<hone_server::analyses::TestRow> {
    tests
        .into_iter()
        .map(|t| hone_server::analyses::TestRow {
            test: t.result.test,
            statistic: t.result.statistic,
            p_value: t.result.p_value,
            effect: t.result.effect,
            meaning: t.meaning,
        })
        .collect()
}

/// The dashboard's analyses over `hone-train`: the compare view's significance tests are
/// those of `hone runs compare` (holdout predictions, seed 0).
struct TrainAnalyses;

impl hone_server::analyses::Analyses for TrainAnalyses {
    fn compare_runs(
        &self,
        store: &dyn hone_track::Backend,
        blobs: &hone_track::artifacts::BlobStore,
        run_a: &str,
        run_b: &str,
    ) -> Result<hone_server::analyses::Comparison, String> {
        use hone_train::compare::{CompareOn, compare_runs};
        let c = compare_runs(store, blobs, run_a, run_b, CompareOn::Holdout, 0)
            .map_err(|e| e.to_string())?;
        Ok(hone_server::analyses::Comparison {
            on: "holdout".into(),
            rows: c.rows,
            task: c.task.kind().to_string(),
            identical_predictions: c.identical_predictions,
            tests: test_rows(c.tests),
        })
    }

    fn changelog(
        &self,
        store: &dyn hone_track::Backend,
        name: &str,
    ) -> Result<Vec<hone_server::analyses::ChangeView>, String> {
        let entries =
            hone_train::registry::changelog::changelog(store, name).map_err(|e| e.to_string())?;
        Ok(entries
            .into_iter()
            .map(|e| hone_server::analyses::ChangeView {
                time: e.time,
                user: e.user,
                action: e.action,
                version: e.version,
                title: e.title,
                lines: e.lines,
            })
            .collect())
    }

    fn history(
        &self,
        store: &dyn hone_track::Backend,
        name: &str,
    ) -> Result<hone_server::analyses::HistoryView, String> {
        let h = hone_train::registry::changelog::history(store, name, None, None)
            .map_err(|e| e.to_string())?;
        Ok(hone_server::analyses::HistoryView {
            metric: h.metric,
            evaluations: h
                .evaluations
                .into_iter()
                .map(|e| hone_server::analyses::EvaluationView {
                    time: e.time,
                    version: e.version,
                    data: e.data,
                    period: e.period,
                    metrics: e
                        .metrics
                        .into_iter()
                        .chain(
                            e.trading
                                .into_iter()
                                .map(|(k, v)| (format!("trading.{k}"), v)),
                        )
                        .collect(),
                    gates_passed: e.gates_passed,
                    drift_share: e.drift_share,
                })
                .collect(),
            warnings: h.warnings,
        })
    }

    fn check_promotion(
        &self,
        store: &dyn hone_track::Backend,
        blobs: &hone_track::artifacts::BlobStore,
        name: &str,
        version: u32,
    ) -> Result<hone_server::analyses::PromotionView, String> {
        use hone_server::analyses::{GateView, PromotionView, SignificanceView};
        use hone_train::registry::promote;
        let v = store
            .get_model_version(name, version)
            .map_err(|e| e.to_string())?;
        let production = promote::production_of(store, name).map_err(|e| e.to_string())?;
        let c = promote::check_promotion(store, blobs, &v, production.as_ref(), 0.05, 0)
            .map_err(|e| e.to_string())?;
        Ok(PromotionView {
            gates: c
                .gates
                .into_iter()
                .map(|g| GateView {
                    rule: g.rule,
                    level: g.level,
                    value: g.value,
                    passed: g.passed,
                })
                .collect(),
            gates_passed: c.gates_passed,
            gates_note: c.gates_note,
            significance: c.significance.map(|s| SignificanceView {
                against: s.against,
                shared_rows: s.shared_rows,
                tests: s.comparison.map(|c| test_rows(c.tests)).unwrap_or_default(),
                passed: s.passed,
                verdict: s.verdict,
            }),
            passed: c.passed,
        })
    }

    fn promote(
        &self,
        store: &dyn hone_track::Backend,
        blobs: &hone_track::artifacts::BlobStore,
        name: &str,
        version: u32,
        stage: &str,
        force: bool,
        reason: &str,
        user: &str,
    ) -> Result<String, String> {
        use hone_train::registry::promote;
        let stage = hone_track::Stage::parse(stage).map_err(|e| e.to_string())?;
        let version = version.to_string();
        let req = promote::PromoteRequest {
            name,
            version: &version,
            stage,
            force,
            reason,
            archive_existing: false,
            alpha: 0.05,
            seed: 0,
            user: Some(user),
        };
        let p = promote::promote(store, blobs, &req).map_err(|e| e.to_string())?;
        Ok(if p.applied {
            format!(
                "version {} of {name} moved from {} to {}{}{}",
                p.version.version,
                p.from,
                p.to,
                if p.forced { " (checks overridden)" } else { "" },
                p.replaced
                    .map_or(String::new(), |r| format!("; it replaces version {r}"))
            )
        } else {
            format!(
                "blocked: version {} of {name} stays {} (a check failed: its page shows which)",
                p.version.version, p.from
            )
        })
    }

    fn rollback_target(
        &self,
        store: &dyn hone_track::Backend,
        name: &str,
    ) -> Result<Option<u32>, String> {
        let stack = hone_train::registry::promote::production_stack(store, name)
            .map_err(|e| e.to_string())?;
        Ok(stack.len().checked_sub(2).map(|i| stack[i]))
    }

    fn rollback(
        &self,
        store: &dyn hone_track::Backend,
        name: &str,
        reason: &str,
        user: &str,
    ) -> Result<String, String> {
        let r = hone_train::registry::promote::rollback_as(store, name, None, reason, user)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "{name}: production rolled back from version {} to version {}",
            r.from, r.to
        ))
    }
}
