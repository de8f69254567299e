//! `hone server`: MLflow's tracking REST API over hone's store, so that the unchanged official
//! MLflow client (`mlflow.set_tracking_uri("http://127.0.0.1:5000")`) can log to and search a
//! hone store.
//!
//! This crate knows HTTP and MLflow's wire format (`wire`), never SQL: every handler is a
//! call into [`hone_track`]'s [`Store`](hone_track::Store) or
//! [`Coordinator`](hone_track::Coordinator), run on tokio's blocking pool because the store
//! is synchronous. Errors come back in MLflow's shape ([`ApiError`]).
//!
//! - [`router`]: the axum router over an [`AppState`] (tests serve it on `127.0.0.1:0`);
//! - [`serve`]: serves a router on a bound listener until a shutdown future completes;
//! - [`run`]: what `hone server` calls: checks the host, opens the store, binds, serves until
//!   Ctrl-C or SIGTERM.
//!
//! Artifacts go through MLflow's `mlflow-artifacts` proxy (`artifacts`): run artifact URIs
//! are `mlflow-artifacts:/<experiment_id>/<run_id>/artifacts`, the bytes go to hone's
//! content-addressed blob store and the paths to the run's artifact records. MLflow 3 logged
//! models (`logged_models`: what every `mlflow.<flavor>.log_model` creates) keep theirs under
//! `mlflow-artifacts:/<experiment_id>/models/<model_id>/artifacts`, recorded on the model.
//!
//! The model registry (`registry`: `registered-models/*`, `model-versions/*`) serves hone's
//! [`Registry`](hone_track::Registry) with hone's rules kept: MLflow's one-call stage jumps are
//! walked through hone's stage matrix, the `production` alias follows the Production stage, a
//! version's `source` must name a run or logged model of this store, and the storage location
//! it is read from is derived by the server.
//!
//! With `--auth` ([`auth`]) every request but `GET /health` must authenticate (bearer token
//! or basic auth against the store's users) and is checked against the caller's permissions
//! on the experiment or registered model it touches; without it the server binds to loopback
//! only. Cross-origin requests are refused unless their origin is allow-listed (`guards`).
//!
//! Runs created through the API are owned by a lease of their own (`mlflow-run-<run_id>`, no
//! holder process), not by the server process: every write to a run renews it, and a run
//! whose client stopped writing for the run timeout is marked KILLED by the server's reaper
//! ([`leases`]).
// Library policy (ARCHITECTURE.md, invariant 14): no unwrap on data from a user or a file.
#![warn(clippy::unwrap_used)]
#![warn(missing_docs)]

pub mod analyses;
mod artifacts;
pub mod auth;
mod calls;
mod error;
mod experiments;
mod guards;
pub mod identity;
pub mod leases;
mod logged_models;
mod logging;
pub mod metrics;
mod registry;
mod runs;
mod web;
pub mod wire;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, patch, post, put};
use hone_track::Backend;
use hone_track::accounts::Level;
use hone_track::artifacts::BlobStore;
use serde_json::json;
use tokio::net::TcpListener;

pub use artifacts::{MAX_ARTIFACT_BYTES, MAX_DECODE_ROUNDS};
pub use error::{ApiError, ServerError};
pub use leases::{DEFAULT_RUN_TIMEOUT, RunLeases, run_lease, run_lease_id, spawn_reaper};
pub use logging::{LogFormat, init_logging, log_level};

/// The MLflow release whose REST API this server speaks (what `GET /version` answers).
pub const MLFLOW_VERSION: &str = "3.17.2";

/// The largest request body accepted (16 MiB), artifact uploads aside
/// ([`MAX_ARTIFACT_BYTES`]); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Where and over what the server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to bind: a loopback address or `localhost`, or with [`Self::auth`] any
    /// address or host name.
    pub host: String,
    /// Port (0: any free port).
    pub port: u16,
    /// The store's URI (as [`hone_track::open_store`] takes it).
    pub store_uri: String,
    /// The artifact location: where the blobs of artifacts uploaded through the
    /// `mlflow-artifacts` proxy go (a folder or `s3://bucket/prefix`).
    pub artifacts_uri: String,
    /// How long a run created through the API lives without a write before the server marks
    /// it KILLED ([`DEFAULT_RUN_TIMEOUT`] by default).
    pub run_timeout: std::time::Duration,
    /// Whether requests must authenticate ([`auth`]); the store must have an administrator.
    pub auth: bool,
    /// With [`Self::auth`], what users may do on resources without an explicit grant
    /// (`None`: nothing). MLflow's default is READ.
    pub default_permission: Option<Level>,
    /// More host names requests may name in `Host` (besides loopback and the bound host).
    pub allowed_hosts: Vec<String>,
    /// Origins (`https://ui.example.com:8443`) whose cross-origin requests are served.
    pub allowed_origins: Vec<String>,
}

/// What the handlers share: the store, the artifact blob store, and the host names requests
/// may name in `Host`.
#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn Backend>,
    blobs: BlobStore,
    allowed_hosts: Arc<Vec<String>>,
    /// Whether any IP address is accepted in `Host` (the server is bound to all interfaces).
    any_ip_host: bool,
    allowed_origins: Arc<Vec<String>>,
    metrics: Arc<metrics::Metrics>,
    leases: Arc<RunLeases>,
    /// Authentication and permissions, when on.
    auth: Option<Arc<auth::Auth>>,
    /// What the dashboard needs hone's training library for (plugged in by `hone server`).
    analyses: Option<Arc<dyn analyses::Analyses>>,
    /// This process's random secret behind the dashboard's CSRF tokens.
    web_secret: Arc<[u8; 32]>,
    /// The store's job queue, for `/metrics` (queue depth, claim latency).
    queue: Option<Arc<dyn hone_track::JobQueue>>,
}

impl AppState {
    /// State over an open store and the blob store of its artifacts; requests may name
    /// `localhost`, `127.0.0.1` or `[::1]` (any port) in `Host`.
    pub fn new(store: Box<dyn Backend>, blobs: BlobStore) -> Self {
        Self {
            store: Arc::from(store),
            blobs,
            allowed_hosts: Arc::new(
                guards::LOOPBACK_HOSTS
                    .iter()
                    .map(|h| h.to_string())
                    .collect(),
            ),
            any_ip_host: false,
            allowed_origins: Arc::new(Vec::new()),
            metrics: Arc::new(metrics::Metrics::default()),
            leases: Arc::new(RunLeases::new(DEFAULT_RUN_TIMEOUT)),
            auth: None,
            analyses: None,
            web_secret: Arc::new({
                use rand::RngExt;
                rand::rng().random()
            }),
            queue: None,
        }
    }

    /// Exports the job queue's depth, live workers and claim latency at `/metrics`.
    pub fn with_queue(mut self, queue: Arc<dyn hone_track::JobQueue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Plugs in the analyses the dashboard shows beyond the store (the compare view's
    /// significance tests).
    pub fn with_analyses(mut self, analyses: Arc<dyn analyses::Analyses>) -> Self {
        self.analyses = Some(analyses);
        self
    }

    /// Runs created through the API are reaped after `timeout` without a write.
    pub fn with_run_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.leases = Arc::new(RunLeases::new(timeout));
        self
    }

    /// Starts the reaper of runs whose client stopped writing ([`spawn_reaper`]); call it
    /// inside the tokio runtime that serves the state.
    pub fn spawn_reaper(&self) -> tokio::task::JoinHandle<()> {
        spawn_reaper(Arc::clone(&self.store), Arc::clone(&self.leases))
    }

    /// Turns authentication on ([`auth`]): every request but `GET /health` must carry a
    /// token or a user's password, and is checked against the user's permissions, with
    /// `default` on resources without a grant (`None`: nothing).
    pub fn with_auth(mut self, default: Option<Level>) -> Self {
        self.auth = Some(Arc::new(auth::Auth::new(default)));
        self
    }

    /// Serves cross-origin requests from `origin` (`scheme://host[:port]`); anything else
    /// (a path, a wildcard, `null`) is refused.
    pub fn allow_origin(mut self, origin: &str) -> Result<Self, ServerError> {
        let o = guards::normalize_origin(origin)
            .ok_or_else(|| ServerError::BadOrigin(hone_track::printable(origin).into_owned()))?;
        if !self.allowed_origins.contains(&o) {
            Arc::make_mut(&mut self.allowed_origins).push(o);
        }
        Ok(self)
    }

    /// Also allows `host` (the address the server is bound to, as given, or another name of
    /// it) in `Host`; an unspecified address (`0.0.0.0`, `::`) allows every IP address.
    pub fn allow_host(mut self, host: &str) -> Self {
        let name = guards::host_name(host);
        // Bound to every interface, the server answers on each of the machine's addresses:
        // any IP address may then be named in `Host`. That opens nothing to DNS rebinding,
        // whose requests always name the attacker's domain.
        if bare_host(&name)
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
        {
            self.any_ip_host = true;
        }
        if !self.allowed_hosts.contains(&name) {
            Arc::make_mut(&mut self.allowed_hosts).push(name);
        }
        self
    }
}

/// Runs a store call on the blocking pool (the store is synchronous), timed under `op` in
/// `hone_store_call_duration_seconds` (from the moment the blocking pool runs it).
async fn blocking<T, F>(state: &AppState, op: &'static str, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Backend) -> Result<T, ApiError> + Send + 'static,
{
    let store = Arc::clone(&state.store);
    let metrics = Arc::clone(&state.metrics);
    let call = move || {
        let start = std::time::Instant::now();
        // A panic in a store call is a 500 for this request, never a dead worker.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(store.as_ref())))
            .unwrap_or_else(|_| {
                eprintln!("hone server: a store call panicked");
                Err(ApiError::internal())
            });
        metrics.observe_store_call(op, start.elapsed().as_secs_f64());
        result
    };
    // On the multi-thread runtime (what `hone server` runs) the call runs on this worker,
    // which hands its other tasks to the other workers meanwhile: a store call is short, and
    // a hop to the blocking pool (another thread to wake, on a busy machine) cost more than
    // the call itself on the hot paths (log-metric). Other runtimes use the blocking pool.
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(call),
        _ => tokio::task::spawn_blocking(call).await.unwrap_or_else(|e| {
            eprintln!("hone server: a store call failed: {e}");
            Err(ApiError::internal())
        }),
    }
}

/// The MLflow routes, relative to `/api/2.0/mlflow` (and `/ajax-api/2.0/mlflow`).
fn mlflow_routes() -> Router<AppState> {
    Router::new()
        .route("/experiments/create", post(experiments::create))
        .route("/experiments/get", get(experiments::get))
        .route("/experiments/get-by-name", get(experiments::get_by_name))
        .route(
            "/experiments/search",
            get(experiments::search).post(experiments::search),
        )
        .route("/experiments/update", post(experiments::update))
        .route("/experiments/delete", post(experiments::delete))
        .route("/experiments/restore", post(experiments::restore))
        .route(
            "/experiments/set-experiment-tag",
            post(experiments::set_tag),
        )
        .route(
            "/experiments/delete-experiment-tag",
            post(experiments::delete_tag),
        )
        .route("/runs/create", post(runs::create))
        .route("/runs/get", get(runs::get))
        .route("/runs/update", post(runs::update))
        .route("/runs/delete", post(runs::delete))
        .route("/runs/restore", post(runs::restore))
        .route("/runs/log-metric", post(runs::log_metric))
        .route("/runs/log-parameter", post(runs::log_param))
        .route("/runs/log-batch", post(runs::log_batch))
        .route("/runs/set-tag", post(runs::set_tag))
        .route("/runs/delete-tag", post(runs::delete_tag))
        .route("/runs/search", get(runs::search).post(runs::search))
        .route("/metrics/get-history", get(runs::history))
        .route("/registered-models/create", post(registry::create_model))
        .route("/registered-models/get", get(registry::get_model))
        .route("/registered-models/rename", post(registry::rename_model))
        .route("/registered-models/update", patch(registry::update_model))
        .route("/registered-models/delete", delete(registry::delete_model))
        .route(
            "/registered-models/search",
            get(registry::search_models).post(registry::search_models),
        )
        .route(
            "/registered-models/get-latest-versions",
            post(registry::latest_versions).get(registry::latest_versions),
        )
        .route("/registered-models/set-tag", post(registry::set_model_tag))
        .route(
            "/registered-models/delete-tag",
            delete(registry::delete_model_tag),
        )
        .route(
            "/registered-models/alias",
            post(registry::set_alias)
                .delete(registry::delete_alias)
                .get(registry::get_by_alias),
        )
        .route("/model-versions/create", post(registry::create_version))
        .route("/model-versions/get", get(registry::get_version))
        .route("/model-versions/update", patch(registry::update_version))
        .route("/model-versions/delete", delete(registry::delete_version))
        .route(
            "/model-versions/search",
            get(registry::search_versions).post(registry::search_versions),
        )
        .route(
            "/model-versions/get-download-uri",
            get(registry::download_uri),
        )
        .route(
            "/model-versions/transition-stage",
            post(registry::transition),
        )
        .route("/model-versions/set-tag", post(registry::set_version_tag))
        .route(
            "/model-versions/delete-tag",
            delete(registry::delete_version_tag),
        )
        .route("/runs/outputs", post(logged_models::log_outputs))
        .route("/runs/log-inputs", post(logged_models::log_inputs))
        .route("/logged-models", post(logged_models::create))
        .route("/logged-models/search", post(logged_models::search))
        .route(
            "/logged-models/{model_id}",
            get(logged_models::get)
                .patch(logged_models::finalize)
                .delete(logged_models::delete),
        )
        .route(
            "/logged-models/{model_id}/tags",
            patch(logged_models::set_tags),
        )
        .route(
            "/logged-models/{model_id}/tags/{*tag_key}",
            delete(logged_models::delete_tag),
        )
        .route(
            "/logged-models/{model_id}/params",
            post(logged_models::log_params),
        )
        .route(
            "/logged-models/{model_id}/artifacts/directories",
            get(logged_models::list_artifacts),
        )
}

/// The `mlflow-artifacts` proxy's routes under `prefix` (one of [`artifacts::PREFIXES`]):
/// list (`GET` without a path), upload, download and delete (with one). Uploads may be
/// [`MAX_ARTIFACT_BYTES`] long.
fn artifact_routes(router: Router<AppState>, prefix: &str) -> Router<AppState> {
    router.route(prefix, get(artifacts::list)).route(
        &format!("{prefix}/{{*path}}"),
        put(artifacts::upload)
            .layer(axum::extract::DefaultBodyLimit::max(MAX_ARTIFACT_BYTES))
            .get(artifacts::download)
            .delete(artifacts::delete),
    )
}

/// The whole application: MLflow's routes under `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow`,
/// the `mlflow-artifacts` proxy under `/api/2.0/mlflow-artifacts/artifacts` (and
/// `/ajax-api/...`), `GET /health` (`OK`), `GET /version` ([`MLFLOW_VERSION`]),
/// `GET /api/3.0/mlflow/server-info` (every optional capability off), `GET /metrics`
/// (Prometheus, [`metrics`]; every request is counted and timed), behind the request
/// guards (`Host` allow-list, JSON `Content-Type` on bodies but artifact uploads, security
/// headers, a body limit of [`MAX_BODY_BYTES`], [`MAX_ARTIFACT_BYTES`] for uploads).
pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .nest("/api/2.0/mlflow", mlflow_routes())
        .nest("/ajax-api/2.0/mlflow", mlflow_routes());
    for prefix in artifacts::PREFIXES {
        app = artifact_routes(app, prefix);
    }
    app.merge(web::routes())
        .route("/api/2.0/hone/call", post(calls::call))
        .route(
            "/api/2.0/hone/blobs",
            put(calls::put_blob).layer(axum::extract::DefaultBodyLimit::max(MAX_ARTIFACT_BYTES)),
        )
        .route("/api/2.0/hone/blobs/{sha}", get(calls::get_blob))
        .route("/health", get(|| async { "OK" }))
        .route("/version", get(|| async { MLFLOW_VERSION }))
        .route("/model-versions/get-artifact", get(registry::get_artifact))
        .route("/api/3.0/mlflow/server-info", get(server_info))
        .route("/metrics", get(metrics::serve_metrics))
        .fallback(|| async {
            ApiError {
                status: axum::http::StatusCode::NOT_FOUND,
                code: "ENDPOINT_NOT_FOUND",
                message: "no such endpoint on this server".into(),
            }
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guards::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn server_info() -> axum::Json<serde_json::Value> {
    axum::Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {"gateway": false},
    }))
}

/// The address to bind for `host`: `localhost` or a loopback IP address (`127.0.0.1`,
/// `::1`, `[::1]`); anything else is refused, since without authentication the binding is the
/// only protection.
pub fn loopback_address(host: &str) -> Result<IpAddr, ServerError> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    match bare_host(host).parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(ip),
        _ => Err(ServerError::NotLoopback(
            hone_track::printable(host).into_owned(),
        )),
    }
}

fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The address to bind for `host` on a server with authentication: any IP address, or a
/// host name resolved by the system (its first address).
fn any_address(host: &str) -> Result<IpAddr, ServerError> {
    if let Ok(ip) = loopback_address(host) {
        return Ok(ip);
    }
    if let Ok(ip) = bare_host(host).parse::<IpAddr>() {
        return Ok(ip);
    }
    use std::net::ToSocketAddrs as _;
    (bare_host(host), 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
        .ok_or_else(|| ServerError::Io {
            context: format!("resolving --host {}", hone_track::printable(host)),
            message: "no address found".into(),
        })
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes the requests in
/// flight (graceful shutdown).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| ServerError::Io {
            context: "serving".into(),
            message: e.to_string(),
        })
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// `hone server`: refuses a non-loopback host without authentication (and authentication
/// without an administrator in the store), opens the store, binds `host:port`, calls
/// `on_listening(address, store location)` once bound, and serves until Ctrl-C or SIGTERM.
/// Blocks the calling thread (it builds its own multi-thread tokio runtime).
pub fn run(
    config: &ServerConfig,
    analyses: Option<Arc<dyn analyses::Analyses>>,
    on_listening: impl FnOnce(SocketAddr, &str),
) -> Result<(), ServerError> {
    // Settings are checked before anything is opened.
    if let Some(bad) = config
        .allowed_origins
        .iter()
        .find(|o| guards::normalize_origin(o).is_none())
    {
        return Err(ServerError::BadOrigin(
            hone_track::printable(bad).into_owned(),
        ));
    }
    // Without authentication nothing is opened for a non-loopback host.
    let ip = if config.auth {
        any_address(&config.host)?
    } else {
        loopback_address(&config.host)?
    };
    // A server serves a database; serving another server would proxy it with this one's
    // permissions in front of that one's.
    if let hone_track::location::StoreTarget::Server { url } =
        hone_track::location::parse_store_uri(&config.store_uri)?
    {
        return Err(hone_track::TrackError::Invalid(format!(
            "--store {}: a server serves a SQLite or PostgreSQL store, not another server",
            hone_track::printable(&url)
        ))
        .into());
    }
    let store = hone_track::open_store(&config.store_uri)?;
    if config.auth && !store.list_users()?.iter().any(|u| u.admin) {
        return Err(ServerError::NoAdmin);
    }
    let blobs = BlobStore::open(&config.artifacts_uri)?;
    let location = store.location();
    let mut state = AppState::new(store, blobs)
        .allow_host(&config.host)
        .with_run_timeout(config.run_timeout);
    for host in &config.allowed_hosts {
        state = state.allow_host(host);
    }
    for origin in &config.allowed_origins {
        state = state.allow_origin(origin)?;
    }
    if config.auth {
        state = state.with_auth(config.default_permission);
    }
    if let Some(a) = analyses {
        state = state.with_analyses(a);
    }
    state = state.with_queue(Arc::from(hone_track::open_queue(&config.store_uri)?));
    let io = |context: String| {
        move |e: std::io::Error| ServerError::Io {
            context,
            message: e.to_string(),
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io("starting the runtime".into()))?;
    runtime.block_on(async move {
        let address = SocketAddr::new(ip, config.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(io(format!("binding {address}")))?;
        let bound = listener
            .local_addr()
            .map_err(io(format!("binding {address}")))?;
        on_listening(bound, &location);
        state.spawn_reaper();
        serve(listener, router(state), shutdown_signal()).await
    })
}
