//! Authentication and authorisation of `hone server --auth`.
//!
//! **Authentication.** Every request but `GET /health` carries `Authorization: Bearer <token>`
//! (what the MLflow client sends for `MLFLOW_TRACKING_TOKEN`; tokens come from
//! `hone users token create`) or `Authorization: Basic base64(user:password)` (what it sends
//! for `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`); anything else is 401
//! `UNAUTHENTICATED` with a `WWW-Authenticate` challenge. Secrets are compared in constant
//! time (token hashes with `subtle`, passwords by argon2's verifier); an unknown user name
//! costs one argon2 verification too, so that timing does not tell which names exist.
//!
//! The MLflow client sends basic credentials on *every* request and argon2 costs tens of
//! milliseconds by design, so successful verifications are cached in memory for
//! [`CACHE_TTL`], keyed by a SHA-256 of user, password **and the stored hash**: the user's
//! row is still read on every request, so a deleted user, a changed admin flag or a changed
//! password (its new hash no longer matches the key, even when another process — `hone users
//! passwd` — changed it) takes effect at the next request. Failed attempts are never cached.
//!
//! **Authorisation.** [`rule`] maps every route (its template and method) to what it needs,
//! as MLflow's basic-auth app does with its per-endpoint validator table: READ for get, search
//! and download, EDIT for writes (log, update, upload, set tag, create version), MANAGE for
//! deletes and the changes that bear on permissions. Runs, their artifacts and logged models
//! inherit their experiment's permission (looked up through the store); versions and aliases
//! inherit their registered model's. Creating an experiment or registered model grants the
//! creator MANAGE. A resource without an explicit grant gets the server's default permission
//! (READ unless `--default-permission none`); administrators have everything. Searches do not
//! leak: `experiments/search` and the registry searches return only what the caller can read,
//! `runs/search` and `logged-models/search` refuse (403) experiment ids the caller cannot read.
//! A route without a rule is for administrators only (a test walks the router's routes and
//! fails on one without a rule).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hone_track::accounts::{self, Level, ResourceKind};
use hone_track::{Backend, TrackError};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::error::ApiError;
use crate::identity::Caller;
use crate::wire::Params;
use crate::{AppState, blocking};

/// How long a successful password verification is remembered.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// At most this many remembered verifications (the oldest half is dropped beyond it).
const CACHE_MAX: usize = 10_000;
/// The largest response a search filter reads back (bigger ones are refused, never passed
/// through unfiltered).
const MAX_FILTERED_RESPONSE: usize = 512 * 1024 * 1024;

/// The authentication settings of a server and its verification cache.
#[derive(Debug)]
pub struct Auth {
    /// What a user may do on a resource without an explicit grant (`None`: nothing).
    default: Option<Level>,
    /// SHA-256(user, password, stored hash) → when the verification stops counting.
    cache: Mutex<HashMap<[u8; 32], Instant>>,
    /// Bounds the argon2 verifications running at once (each takes 19 MiB and tens of ms of
    /// a core), so a flood of wrong passwords queues instead of exhausting memory.
    verifying: tokio::sync::Semaphore,
    /// The dashboard's sign-in sessions: SHA-256 of the cookie's secret → (user, expiry).
    sessions: Mutex<HashMap<[u8; 32], (String, Instant)>>,
}

/// The dashboard's session cookie.
pub const SESSION_COOKIE: &str = "hone_session";
/// How long a dashboard session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The most sessions held at once (the oldest are dropped past it).
const SESSIONS_MAX: usize = 10_000;

impl Auth {
    /// Authentication with `default` as the permission on resources without a grant.
    pub fn new(default: Option<Level>) -> Self {
        Self {
            default,
            cache: Mutex::new(HashMap::new()),
            verifying: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
            ),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a dashboard session for `user`; returns the cookie's value (random, 256 bits;
    /// only its SHA-256 is kept).
    pub fn start_session(&self, user: &str) -> String {
        use rand::RngExt;
        let mut rng = rand::rng();
        let secret: String = (0..32)
            .map(|_| format!("{:02x}", rng.random::<u8>()))
            .collect();
        let key: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if let Ok(mut m) = self.sessions.lock() {
            let now = Instant::now();
            m.retain(|_, (_, until)| *until > now);
            if m.len() >= SESSIONS_MAX {
                m.clear();
            }
            m.insert(key, (user.to_string(), now + SESSION_TTL));
        }
        secret
    }

    /// The user of a live session cookie.
    pub fn session_user(&self, cookie: &str) -> Option<String> {
        let key: [u8; 32] = Sha256::digest(cookie.as_bytes()).into();
        let now = Instant::now();
        self.sessions
            .lock()
            .ok()?
            .get(&key)
            .filter(|(_, until)| *until > now)
            .map(|(u, _)| u.clone())
    }

    /// Ends a session (sign-out).
    pub fn end_session(&self, cookie: &str) {
        let key: [u8; 32] = Sha256::digest(cookie.as_bytes()).into();
        if let Ok(mut m) = self.sessions.lock() {
            m.remove(&key);
        }
    }

    fn cached(&self, key: &[u8; 32]) -> bool {
        let now = Instant::now();
        self.cache
            .lock()
            .map(|c| c.get(key).is_some_and(|until| *until > now))
            .unwrap_or(false)
    }

    fn remember(&self, key: [u8; 32]) {
        if let Ok(mut c) = self.cache.lock() {
            let now = Instant::now();
            if c.len() >= CACHE_MAX {
                c.retain(|_, until| *until > now);
            }
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(key, now + CACHE_TTL);
        }
    }
}

fn unauthenticated(message: &str) -> Response {
    let mut r = ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "UNAUTHENTICATED",
        message: message.to_string(),
    }
    .into_response();
    let h = r.headers_mut();
    h.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"hone\", charset=\"UTF-8\""),
    );
    h.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"hone\""),
    );
    r
}

fn denied(message: String) -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        code: "PERMISSION_DENIED",
        message,
    }
}

/// A PHC hash to verify against when the user does not exist, so that an unknown name costs
/// what a wrong password costs.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| accounts::hash_password("not the password of anyone").unwrap_or_default())
}

/// Who the `Authorization` header says is calling, or why not.
async fn authenticate(
    state: &AppState,
    auth: &Auth,
    header: Option<HeaderValue>,
) -> Result<Caller, Response> {
    const HOW: &str = "authentication required: send a token (MLFLOW_TRACKING_TOKEN) or a user \
                       name and password (MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD)";
    let Some(value) = header else {
        return Err(unauthenticated(HOW));
    };
    let value = value.to_str().map_err(|_| unauthenticated(HOW))?;
    let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
    let credentials = credentials.trim().to_string();
    let user = if scheme.eq_ignore_ascii_case("bearer") {
        blocking(state, "auth.token", move |st| {
            Ok(accounts::verify_token(st, &credentials)?)
        })
        .await
        .map_err(IntoResponse::into_response)?
        .ok_or_else(|| unauthenticated("invalid, expired or revoked token"))?
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| unauthenticated("malformed basic credentials"))?;
        let (name, password) = decoded
            .split_once(':')
            .map(|(n, p)| (n.to_string(), p.to_string()))
            .ok_or_else(|| unauthenticated("malformed basic credentials"))?;
        check_password(state, auth, name, password).await?
    } else {
        return Err(unauthenticated(HOW));
    };
    Ok(Caller {
        user: user.name,
        admin: user.admin,
    })
}

/// The user whose name and password these are (argon2, bounded and cached as for Basic
/// authentication), or a 401 answer.
pub(crate) async fn check_password(
    state: &AppState,
    auth: &Auth,
    name: String,
    password: String,
) -> Result<accounts::User, Response> {
    let user = {
        let lookup = name.clone();
        let found = blocking(state, "auth.user", move |st| Ok(st.get_user(&lookup)?))
            .await
            .map_err(IntoResponse::into_response)?;
        let phc = found
            .as_ref()
            .map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
        // Length-prefixed parts, so that no two (user, password, hash) triples share a key.
        let mut hasher = Sha256::new();
        for part in [name.as_bytes(), password.as_bytes(), phc.as_bytes()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let key: [u8; 32] = hasher.finalize().into();
        let ok = if found.is_some() && auth.cached(&key) {
            true
        } else {
            let _slot = auth.verifying.acquire().await.ok();
            let verified =
                tokio::task::spawn_blocking(move || accounts::verify_password(&password, &phc))
                    .await
                    .unwrap_or(false);
            verified && found.is_some()
        };
        match found {
            Some(user) if ok => {
                auth.remember(key);
                user
            }
            _ => return Err(unauthenticated("invalid user name or password")),
        }
    };
    Ok(user)
}

/// Where a checked resource's identity is found in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An experiment id in a request field.
    Experiment(&'static str),
    /// Every experiment id of a repeated request field (all must pass).
    Experiments(&'static str),
    /// The run of `run_id` (or `run_uuid`): its experiment.
    Run,
    /// The run in an optional request field, when given (its experiment).
    OptionalRun(&'static str),
    /// Every run of a repeated request field (their experiments).
    Runs(&'static str),
    /// A registered model's name in a request field.
    Model(&'static str),
    /// The logged model of the `{model_id}` path parameter: its experiment.
    LoggedModel,
    /// The run or logged model of an `mlflow-artifacts` path (`{*path}`): its experiment.
    ArtifactPath,
    /// The same, from the `path` query parameter of an artifact listing.
    ArtifactQuery,
}

/// What a route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Nothing, not even a user (`GET /health`).
    Open,
    /// Any authenticated user (server metadata).
    Authenticated,
    /// A dashboard page or form: any authenticated user, also through the dashboard's
    /// session cookie; a browser without credentials is sent to the sign-in page. The
    /// handler checks what the page shows.
    Page,
    /// Administrators only.
    Admin,
    /// Each target at the level.
    Need(Vec<(Target, Level)>),
    /// `experiments/create`: any user; the creator gets MANAGE on the new experiment.
    CreateExperiment,
    /// `registered-models/create`: any user; the creator gets MANAGE on the new model.
    CreateModel,
    /// `registered-models/rename`: MANAGE on the model; its grants follow the new name.
    RenameModel,
    /// `registered-models/delete`: MANAGE on the model; its grants are removed with it.
    DeleteModel,
    /// `experiments/get-by-name`: READ on the experiment found (checked on the answer).
    ExperimentByName,
    /// `experiments/search`: the answer keeps only the experiments the caller can read.
    FilterExperiments,
    /// `registered-models/search`: only the models the caller can read.
    FilterModels,
    /// `model-versions/search`: only versions of models the caller can read.
    FilterVersions,
    /// `logged-models/search`: READ on every experiment asked for; the answer keeps only
    /// models of experiments the caller can read.
    SearchLoggedModels,
}

/// The MLflow API prefixes (REST and the UI's).
const API_PREFIXES: [&str; 2] = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"];

/// The rule of a route: its template as the router knows it (`/api/2.0/mlflow/runs/get`,
/// `/api/2.0/mlflow/logged-models/{model_id}`) and the method. `None`: no rule, so the route
/// is for administrators only.
pub fn rule(method: &Method, template: &str) -> Option<Rule> {
    use Level::{Edit, Manage, Read};
    use Target::*;
    let need = |t: Target, l: Level| Some(Rule::Need(vec![(t, l)]));
    // axum answers HEAD with the GET handler.
    let m = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    match template {
        "/health" => return Some(Rule::Open),
        "/version" | "/api/3.0/mlflow/server-info" | "/metrics" => {
            return Some(Rule::Authenticated);
        }
        // The dashboard's stylesheet and script hold no data.
        "/static/hone.css" | "/static/hone.js" | "/static/favicon.svg" => {
            return (m == "GET").then_some(Rule::Open);
        }
        // Its pages check what they show themselves (`crate::web`).
        "/"
        | "/experiments/{experiment_id}"
        | "/runs/{run_id}"
        | "/runs/{run_id}/events"
        | "/runs/{run_id}/artifacts/{*path}"
        | "/studies/{experiment_id}"
        | "/studies/{experiment_id}/events"
        | "/experiments/{experiment_id}/events"
        | "/compare"
        | "/models"
        | "/models/{name}"
        | "/models/{name}/versions/{version}" => {
            return (m == "GET").then_some(Rule::Page);
        }
        // Its forms (MANAGE on the model and a CSRF token, checked by the handler).
        "/models/{name}/versions/{version}/promote" | "/models/{name}/rollback" => {
            return (m == "POST").then_some(Rule::Page);
        }
        "/logout" => return matches!(m, "GET" | "POST").then_some(Rule::Page),
        // Signing in needs no credentials (it checks them).
        "/login" => return matches!(m, "GET" | "POST").then_some(Rule::Open),
        // hone's store calls and blobs check each call's needs themselves (`crate::calls`).
        "/api/2.0/hone/call" => return (m == "POST").then_some(Rule::Authenticated),
        "/api/2.0/hone/blobs" => return (m == "PUT").then_some(Rule::Authenticated),
        "/api/2.0/hone/blobs/{sha}" => return (m == "GET").then_some(Rule::Authenticated),
        _ => {}
    }
    if crate::artifacts::PREFIXES.contains(&template) {
        return (m == "GET").then_some(Rule::Need(vec![(ArtifactQuery, Read)]));
    }
    if let Some(p) = crate::artifacts::PREFIXES
        .iter()
        .find_map(|p| template.strip_prefix(p))
        && p == "/{*path}"
    {
        return match m {
            "GET" => need(ArtifactPath, Read),
            "PUT" => need(ArtifactPath, Edit),
            "DELETE" => need(ArtifactPath, Manage),
            _ => None,
        };
    }
    // The UI's download of a model version's file (MLflow's historic CVE surface), served
    // at the root: reading the version's model.
    if template == "/model-versions/get-artifact" {
        return (m == "GET").then_some(Rule::Need(vec![(Model("name"), Read)]));
    }
    let path = API_PREFIXES.iter().find_map(|p| template.strip_prefix(p))?;
    let exp = Experiment("experiment_id");
    match (m, path) {
        // Experiments (§2.1).
        ("POST", "/experiments/create") => Some(Rule::CreateExperiment),
        ("GET", "/experiments/get") => need(exp, Read),
        ("GET", "/experiments/get-by-name") => Some(Rule::ExperimentByName),
        ("GET" | "POST", "/experiments/search") => Some(Rule::FilterExperiments),
        ("POST", "/experiments/update") => need(exp, Edit),
        ("POST", "/experiments/set-experiment-tag") => need(exp, Edit),
        ("POST", "/experiments/delete-experiment-tag") => need(exp, Edit),
        ("POST", "/experiments/delete" | "/experiments/restore") => need(exp, Manage),
        // Runs and logging (§2.2, §2.3): the run's experiment.
        ("GET", "/runs/get" | "/metrics/get-history" | "/artifacts/list") => need(Run, Read),
        ("POST", "/runs/create") => need(exp, Edit),
        (
            "POST",
            "/runs/update"
            | "/runs/log-metric"
            | "/runs/log-parameter"
            | "/runs/log-batch"
            | "/runs/set-tag"
            | "/runs/delete-tag"
            | "/runs/log-inputs"
            | "/runs/outputs"
            | "/runs/log-model",
        ) => need(Run, Edit),
        ("POST", "/runs/delete" | "/runs/restore") => need(Run, Manage),
        ("GET" | "POST", "/runs/search") => need(Experiments("experiment_ids"), Read),
        ("GET", "/metrics/get-history-bulk-interval") => need(Runs("run_ids"), Read),
        // Logged models (§2.5): their experiment.
        ("POST", "/logged-models") => need(exp, Edit),
        ("POST", "/logged-models/search") => Some(Rule::SearchLoggedModels),
        ("GET", "/logged-models/{model_id}") => need(LoggedModel, Read),
        ("GET", "/logged-models/{model_id}/artifacts/directories") => need(LoggedModel, Read),
        ("PATCH", "/logged-models/{model_id}" | "/logged-models/{model_id}/tags") => {
            need(LoggedModel, Edit)
        }
        ("POST", "/logged-models/{model_id}/params") => need(LoggedModel, Edit),
        (
            "DELETE",
            "/logged-models/{model_id}/tags/{tag_key}"
            | "/logged-models/{model_id}/tags/{*tag_key}",
        ) => need(LoggedModel, Edit),
        ("DELETE", "/logged-models/{model_id}") => need(LoggedModel, Manage),
        // Model registry (§2.6): the registered model.
        ("POST", "/registered-models/create") => Some(Rule::CreateModel),
        ("GET", "/registered-models/get" | "/registered-models/alias") => need(Model("name"), Read),
        ("GET" | "POST", "/registered-models/get-latest-versions") => need(Model("name"), Read),
        ("GET" | "POST", "/registered-models/search") => Some(Rule::FilterModels),
        ("POST", "/registered-models/rename") => Some(Rule::RenameModel),
        ("PATCH", "/registered-models/update") => need(Model("name"), Edit),
        ("POST", "/registered-models/set-tag" | "/registered-models/alias") => {
            need(Model("name"), Edit)
        }
        ("DELETE", "/registered-models/delete-tag") => need(Model("name"), Edit),
        ("DELETE", "/registered-models/alias") => need(Model("name"), Manage),
        ("DELETE", "/registered-models/delete") => Some(Rule::DeleteModel),
        ("POST", "/model-versions/create") => Some(Rule::Need(vec![
            (Model("name"), Edit),
            // The version points at the run's artifacts: its creator must be able to read
            // them.
            (OptionalRun("run_id"), Read),
        ])),
        ("GET", "/model-versions/get" | "/model-versions/get-download-uri") => {
            need(Model("name"), Read)
        }
        ("GET" | "POST", "/model-versions/search") => Some(Rule::FilterVersions),
        ("PATCH", "/model-versions/update") => need(Model("name"), Edit),
        ("POST", "/model-versions/set-tag" | "/model-versions/transition-stage") => {
            need(Model("name"), Edit)
        }
        ("DELETE", "/model-versions/delete-tag") => need(Model("name"), Edit),
        ("DELETE", "/model-versions/delete") => need(Model("name"), Manage),
        _ => None,
    }
}

/// What one request's checks work with: the store, the caller, the default permission, and
/// the caller's grants (read once per request, when a check needs them).
struct Checker<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    default: Option<Level>,
}

impl Checker<'_> {
    /// The caller's level on a resource: an explicit grant, else the default.
    async fn level(&self, kind: ResourceKind, resource: &str) -> Result<Option<Level>, ApiError> {
        let user = self.caller.user.clone();
        let resource = resource.to_string();
        let explicit = blocking(self.state, "auth.permission", move |st| {
            Ok(st.get_permission(&user, kind, &resource)?)
        })
        .await?;
        Ok(explicit.or(self.default))
    }

    async fn require(
        &self,
        kind: ResourceKind,
        resource: &str,
        need: Level,
    ) -> Result<(), ApiError> {
        if self.level(kind, resource).await? >= Some(need) {
            return Ok(());
        }
        let what = match kind {
            ResourceKind::Experiment => "experiment",
            ResourceKind::RegisteredModel => "registered model",
        };
        Err(denied(format!(
            "Permission denied: user {} needs {} on {what} {}",
            self.caller.user,
            need,
            hone_track::printable(resource)
        )))
    }

    /// The experiment of an id as the handlers resolve it: `"0"` is the `Default` experiment
    /// when the store has no experiment `"0"` (see `runs::resolve_experiment`).
    async fn experiment(&self, id: String) -> Result<String, ApiError> {
        // The store reads `01` and `+1` as experiment 1: so must the check, or a spelling of
        // an id would escape a grant lower than the default.
        let id = id.parse::<i64>().map_or(id, |n| n.to_string());
        if id != "0" {
            return Ok(id);
        }
        blocking(self.state, "auth.experiment", move |st| {
            match st.get_experiment(&id) {
                Ok(_) => return Ok(id),
                Err(TrackError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            Ok(st
                .get_experiment_by_name(crate::runs::DEFAULT_EXPERIMENT)?
                .map_or(id, |e| e.experiment_id))
        })
        .await
    }

    async fn require_experiment(&self, id: String, need: Level) -> Result<(), ApiError> {
        let id = self.experiment(id).await?;
        self.require(ResourceKind::Experiment, &id, need).await
    }

    /// Checks the run's experiment; a run that does not exist passes (the handler answers
    /// 404 for it, and run ids are random).
    async fn require_run(&self, run_id: String, need: Level) -> Result<(), ApiError> {
        let exp = blocking(self.state, "auth.run", move |st| {
            Ok(st.experiment_of_run(&run_id)?)
        })
        .await?;
        match exp {
            Some(e) => self.require(ResourceKind::Experiment, &e, need).await,
            None => Ok(()),
        }
    }

    /// Checks a logged model's experiment (a logged model follows its experiment, as a run
    /// does); an unknown model passes here and is refused by the handler (404).
    async fn require_logged_model(&self, model_id: &str, need: Level) -> Result<(), ApiError> {
        let id = model_id.to_string();
        let exp = blocking(self.state, "auth.logged_model", move |st| {
            match st.get_logged_model(&id) {
                Ok(m) => Ok(Some(m.experiment_id)),
                Err(hone_track::TrackError::NotFound(_) | hone_track::TrackError::Invalid(_)) => {
                    Ok(None)
                }
                Err(e) => Err(e.into()),
            }
        })
        .await?;
        match exp {
            Some(e) => self.require(ResourceKind::Experiment, &e, need).await,
            None => Ok(()),
        }
    }

    /// The caller's grants of one kind, and whether resources without one are readable.
    async fn readable(&self, kind: ResourceKind) -> Result<(HashSet<String>, bool), ApiError> {
        let user = self.caller.user.clone();
        let grants = blocking(self.state, "auth.permissions", move |st| {
            Ok(st.list_permissions(Some(&user))?)
        })
        .await?;
        Ok((
            grants
                .into_iter()
                .filter(|p| p.kind == kind)
                .map(|p| p.resource)
                .collect(),
            self.default.is_some(),
        ))
    }

    async fn check(&self, target: Target, need: Level, req: &Parsed) -> Result<(), ApiError> {
        match target {
            Target::Experiment(field) => {
                let id = req.params.req_str(field)?;
                self.require_experiment(id, need).await
            }
            Target::Experiments(field) => {
                for id in req.params.str_list(field)? {
                    self.require_experiment(id, need).await?;
                }
                Ok(())
            }
            Target::Run => self.require_run(req.params.run_id()?, need).await,
            Target::OptionalRun(field) => match req.params.opt_str(field)? {
                Some(run) => self.require_run(run, need).await,
                None => Ok(()),
            },
            Target::Runs(field) => {
                for run in req.params.str_list(field)? {
                    self.require_run(run, need).await?;
                }
                Ok(())
            }
            Target::Model(field) => {
                let name = req.params.req_str(field)?;
                self.require(ResourceKind::RegisteredModel, &name, need)
                    .await
            }
            Target::LoggedModel => {
                let id = req.path_param.clone().unwrap_or_default();
                self.require_logged_model(&id, need).await
            }
            Target::ArtifactPath | Target::ArtifactQuery => {
                let raw = if target == Target::ArtifactPath {
                    req.path_param.clone().unwrap_or_default()
                } else {
                    req.params.opt_str("path")?.unwrap_or_default()
                };
                let decoded = crate::artifacts::decode_path(&raw)?;
                let mut parts = decoded.trim_start_matches('/').split('/');
                let (experiment, second) = (parts.next(), parts.next());
                match (experiment, second) {
                    (Some(e), Some("models")) if !e.is_empty() => {
                        let id = parts.next().unwrap_or_default().to_string();
                        self.require_logged_model(&id, need).await
                    }
                    (Some(e), Some(run)) if !e.is_empty() && !run.is_empty() => {
                        // The run's own experiment decides, whatever the path claims (the
                        // handler also refuses a path whose experiment is not the run's).
                        let run = run.to_string();
                        let e = e.to_string();
                        let found = blocking(self.state, "auth.run", move |st| {
                            Ok(st.experiment_of_run(&run)?)
                        })
                        .await?;
                        self.require(ResourceKind::Experiment, &found.unwrap_or(e), need)
                            .await
                    }
                    // Not a run path: the handler refuses it (400) before reading anything.
                    _ => Ok(()),
                }
            }
        }
    }
}

/// A request's message and `{...}` path parameter, read for the checks.
struct Parsed {
    params: Params,
    path_param: Option<String>,
}

/// The value of the last `{...}` parameter of `template` in `path` (`{model_id}`,
/// `{*path}`), from the raw (still percent-encoded) path.
fn path_param(template: &str, path: &str) -> Option<String> {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    let mut found = None;
    for (i, seg) in t.iter().enumerate() {
        if seg.starts_with("{*") {
            return Some(p.get(i..).map(|rest| rest.join("/")).unwrap_or_default());
        }
        if seg.starts_with('{') {
            found = p.get(i).map(|s| s.to_string());
        }
    }
    found
}

fn needs_params(rule: &Rule) -> bool {
    !matches!(
        rule,
        Rule::Open | Rule::Authenticated | Rule::Page | Rule::Admin
    )
}

/// Reads a request's message (query string for GET, the buffered JSON body otherwise) and
/// hands back a request with the same body.
async fn parse(req: Request, template: &str) -> Result<(Request, Parsed), ApiError> {
    let path_param = path_param(template, req.uri().path());
    if matches!(*req.method(), Method::GET | Method::HEAD)
        || crate::guards::is_artifact_upload(&req)
    {
        let params = Params::from_query(req.uri().query().unwrap_or(""));
        return Ok((req, Parsed { params, path_param }));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "RESOURCE_EXHAUSTED",
            message: format!(
                "the request body is larger than the server's limit of {} bytes",
                crate::MAX_BODY_BYTES
            ),
        })?;
    let params = Params::from_json(&bytes)?;
    Ok((
        Request::from_parts(parts, Body::from(bytes)),
        Parsed { params, path_param },
    ))
}

/// The body of a successful JSON answer, read back for a filter; `None` for anything else
/// (errors pass through untouched).
async fn answer_json(
    response: Response,
) -> Result<(axum::http::response::Parts, Option<Value>, Bytes), ApiError> {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FILTERED_RESPONSE)
        .await
        .map_err(|_| ApiError::internal())?;
    let json = if parts.status == StatusCode::OK {
        serde_json::from_slice(&bytes).ok()
    } else {
        None
    };
    Ok((parts, json, bytes))
}

/// Keeps the elements of `answer[list]` for which `keep` holds.
fn filter_list(answer: &mut Value, list: &str, keep: impl Fn(&Value) -> bool) {
    if let Some(items) = answer.get_mut(list).and_then(Value::as_array_mut) {
        items.retain(|v| keep(v));
        if items.is_empty()
            && let Some(map) = answer.as_object_mut()
        {
            // MLflow omits empty repeated fields.
            map.remove(list);
        }
    }
}

fn json_response(parts: axum::http::response::Parts, value: &Value) -> Response {
    let mut r = Response::from_parts(parts, Body::from(value.to_string()));
    r.headers_mut().remove(header::CONTENT_LENGTH);
    r
}

/// The middleware (a no-op without `--auth`): authenticates, inserts the [`Caller`], applies
/// the route's [`rule`], runs the handler, and does what the rule asks after it (grants,
/// renames, filters).
pub async fn authorize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(auth) = state.auth.clone() else {
        return next.run(req).await;
    };
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let rule = match &template {
        Some(t) => rule(req.method(), t).unwrap_or(Rule::Admin),
        // No route matched: the fallback answers 404, after authentication.
        None => Rule::Authenticated,
    };
    if rule == Rule::Open {
        return next.run(req).await;
    }
    let header = req.headers().get(header::AUTHORIZATION).cloned();
    let caller = if rule == Rule::Page && header.is_none() {
        let user = cookie(req.headers(), SESSION_COOKIE).and_then(|c| auth.session_user(c));
        let is_get = req.method() == Method::GET;
        let wanted = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        match page_caller_of(&state, user, is_get, wanted).await {
            Ok(c) => c,
            Err(r) => return r,
        }
    } else {
        match authenticate(&state, &auth, header).await {
            Ok(c) => c,
            Err(r) => return r,
        }
    };
    match run_checked(
        &state,
        &auth,
        caller,
        rule,
        template.unwrap_or_default(),
        req,
        next,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// The value of a cookie in a request.
pub(crate) fn cookie<'r>(req_headers: &'r axum::http::HeaderMap, name: &str) -> Option<&'r str> {
    req_headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The caller of a dashboard request without an `Authorization` header: the user of its
/// session cookie (who must still exist), or else a redirect to the sign-in page (GET) or 401.
async fn page_caller_of(
    state: &AppState,
    user: Option<String>,
    is_get: bool,
    wanted: String,
) -> Result<Caller, Response> {
    if let Some(name) = user {
        let found = blocking(state, "auth.user", move |st| Ok(st.get_user(&name)?))
            .await
            .map_err(IntoResponse::into_response)?;
        if let Some(u) = found {
            return Ok(Caller {
                user: u.name,
                admin: u.admin,
            });
        }
    }
    if is_get {
        let next = form_urlencoded::byte_serialize(wanted.as_bytes()).collect::<String>();
        let mut r = StatusCode::SEE_OTHER.into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("/login?next={next}")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return Err(r);
    }
    Err(unauthenticated(
        "sign in first: your dashboard session has ended",
    ))
}

async fn run_checked(
    state: &AppState,
    auth: &Auth,
    caller: Caller,
    rule: Rule,
    template: String,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    req.extensions_mut().insert(caller.clone());
    if caller.admin
        && !matches!(
            rule,
            Rule::CreateExperiment | Rule::CreateModel | Rule::RenameModel | Rule::DeleteModel
        )
    {
        return Ok(next.run(req).await);
    }
    if rule == Rule::Admin {
        return Err(denied(format!(
            "Permission denied: this endpoint is for administrators, and {} is not one",
            caller.user
        )));
    }
    if !needs_params(&rule) {
        return Ok(next.run(req).await);
    }
    let (req, parsed) = parse(req, &template).await?;
    let checker = Checker {
        state,
        caller: &caller,
        default: auth.default,
    };
    let admin = caller.admin;
    match rule {
        Rule::Need(targets) => {
            for (target, level) in targets {
                checker.check(target, level, &parsed).await?;
            }
            Ok(next.run(req).await)
        }
        Rule::CreateExperiment => {
            let response = next.run(req).await;
            let (parts, json, bytes) = answer_json(response).await?;
            if let Some(id) = json
                .as_ref()
                .and_then(|j| j["experiment_id"].as_str())
                .map(str::to_string)
            {
                grant_manage(state, &caller, ResourceKind::Experiment, id).await?;
            }
            Ok(Response::from_parts(parts, Body::from(bytes)))
        }
        Rule::CreateModel => {
            let name = parsed.params.req_str("name")?;
            let response = next.run(req).await;
            if response.status() == StatusCode::OK {
                grant_manage(state, &caller, ResourceKind::RegisteredModel, name).await?;
            }
            Ok(response)
        }
        Rule::RenameModel => {
            let name = parsed.params.req_str("name")?;
            let new_name = parsed.params.req_str("new_name")?;
            if !admin {
                checker
                    .require(ResourceKind::RegisteredModel, &name, Level::Manage)
                    .await?;
            }
            let response = next.run(req).await;
            if response.status() == StatusCode::OK {
                blocking(state, "auth.rename", move |st| {
                    Ok(st.rename_permissions(ResourceKind::RegisteredModel, &name, &new_name)?)
                })
                .await?;
            }
            Ok(response)
        }
        Rule::DeleteModel => {
            let name = parsed.params.req_str("name")?;
            if !admin {
                checker
                    .require(ResourceKind::RegisteredModel, &name, Level::Manage)
                    .await?;
            }
            let response = next.run(req).await;
            if response.status() == StatusCode::OK {
                blocking(state, "auth.forget", move |st| {
                    Ok(st.delete_permissions_on(ResourceKind::RegisteredModel, &name)?)
                })
                .await?;
            }
            Ok(response)
        }
        Rule::ExperimentByName => {
            let response = next.run(req).await;
            let (parts, json, bytes) = answer_json(response).await?;
            if let Some(id) = json
                .as_ref()
                .and_then(|j| j["experiment"]["experiment_id"].as_str())
            {
                checker
                    .require(ResourceKind::Experiment, id, Level::Read)
                    .await?;
            }
            Ok(Response::from_parts(parts, Body::from(bytes)))
        }
        Rule::FilterExperiments | Rule::FilterModels | Rule::FilterVersions => {
            let (kind, list, key): (_, _, fn(&Value) -> Option<&str>) = match rule {
                Rule::FilterExperiments => (ResourceKind::Experiment, "experiments", |v| {
                    v["experiment_id"].as_str()
                }),
                Rule::FilterModels => (ResourceKind::RegisteredModel, "registered_models", |v| {
                    v["name"].as_str()
                }),
                _ => (ResourceKind::RegisteredModel, "model_versions", |v| {
                    v["name"].as_str()
                }),
            };
            let (granted, all) = checker.readable(kind).await?;
            let response = next.run(req).await;
            if all {
                return Ok(response);
            }
            let (parts, json, bytes) = answer_json(response).await?;
            match json {
                Some(mut answer) => {
                    filter_list(&mut answer, list, |v| {
                        key(v).is_some_and(|k| granted.contains(k))
                    });
                    Ok(json_response(parts, &answer))
                }
                None => Ok(Response::from_parts(parts, Body::from(bytes))),
            }
        }
        Rule::SearchLoggedModels => {
            checker
                .check(Target::Experiments("experiment_ids"), Level::Read, &parsed)
                .await?;
            let (granted, all) = checker.readable(ResourceKind::Experiment).await?;
            let response = next.run(req).await;
            if all {
                return Ok(response);
            }
            let (parts, json, bytes) = answer_json(response).await?;
            match json {
                Some(mut answer) => {
                    filter_list(&mut answer, "models", |v| {
                        v["info"]["experiment_id"]
                            .as_str()
                            .is_some_and(|e| granted.contains(e))
                    });
                    Ok(json_response(parts, &answer))
                }
                None => Ok(Response::from_parts(parts, Body::from(bytes))),
            }
        }
        Rule::Open | Rule::Authenticated | Rule::Page | Rule::Admin => Ok(next.run(req).await),
    }
}

/// What a store call (`/api/2.0/hone/call`, see [`crate::calls`]) needs of its caller: the
/// same levels on the same resources as the MLflow route that does the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Need {
    /// A level on an experiment (by id).
    Experiment(String, Level),
    /// A level on a run's experiment (an unknown run passes: the store answers 404).
    Run(String, Level),
    /// A level on a logged model's experiment (an unknown model passes likewise).
    LoggedModel(String, Level),
    /// A level on a registered model (by name).
    Model(String, Level),
    /// An administrator.
    Admin,
}

/// Checks every need of a call for a caller who is not an administrator.
pub(crate) async fn require_all(
    state: &AppState,
    auth: &Auth,
    caller: &Caller,
    needs: Vec<Need>,
) -> Result<(), ApiError> {
    let checker = Checker {
        state,
        caller,
        default: auth.default,
    };
    for need in needs {
        match need {
            Need::Experiment(id, level) => checker.require_experiment(id, level).await?,
            Need::Run(id, level) => checker.require_run(id, level).await?,
            Need::LoggedModel(id, level) => checker.require_logged_model(&id, level).await?,
            Need::Model(name, level) => {
                checker
                    .require(ResourceKind::RegisteredModel, &name, level)
                    .await?
            }
            Need::Admin => {
                return Err(denied(format!(
                    "Permission denied: this call is for administrators, and {} is not one",
                    caller.user
                )));
            }
        }
    }
    Ok(())
}

/// The resources of one kind a caller who is not an administrator may read: `None` when
/// every resource is (the default permission reads), else the explicitly granted ones.
pub(crate) async fn readable_set(
    state: &AppState,
    auth: &Auth,
    caller: &Caller,
    kind: ResourceKind,
) -> Result<Option<HashSet<String>>, ApiError> {
    let checker = Checker {
        state,
        caller,
        default: auth.default,
    };
    let (granted, all) = checker.readable(kind).await?;
    Ok((!all).then_some(granted))
}

/// Grants the caller MANAGE on a resource they created (through a store call).
pub(crate) async fn grant_creator(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    resource: String,
) -> Result<(), ApiError> {
    grant_manage(state, caller, kind, resource).await
}

async fn grant_manage(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    resource: String,
) -> Result<(), ApiError> {
    let user = caller.user.clone();
    blocking(state, "auth.grant", move |st: &dyn Backend| {
        Ok(st.set_permission(&user, kind, &resource, Level::Manage)?)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_read_from_the_template() {
        assert_eq!(
            path_param(
                "/api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}",
                "/api/2.0/mlflow/logged-models/m-1/tags/k"
            )
            .as_deref(),
            Some("k")
        );
        assert_eq!(
            path_param(
                "/api/2.0/mlflow-artifacts/artifacts/{*path}",
                "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/a/b.txt"
            )
            .as_deref(),
            Some("1/r/artifacts/a/b.txt")
        );
        assert_eq!(path_param("/health", "/health"), None);
    }

    #[test]
    fn writes_need_more_than_reads_and_deletes_most() {
        let r = |m: Method, p: &str| rule(&m, p);
        assert_eq!(
            r(Method::GET, "/api/2.0/mlflow/runs/get"),
            Some(Rule::Need(vec![(Target::Run, Level::Read)]))
        );
        assert_eq!(
            r(Method::POST, "/ajax-api/2.0/mlflow/runs/log-batch"),
            Some(Rule::Need(vec![(Target::Run, Level::Edit)]))
        );
        assert_eq!(
            r(
                Method::DELETE,
                "/api/2.0/mlflow-artifacts/artifacts/{*path}"
            ),
            Some(Rule::Need(vec![(Target::ArtifactPath, Level::Manage)]))
        );
        // HEAD is GET's.
        assert_eq!(
            r(Method::HEAD, "/api/2.0/mlflow/runs/get"),
            Some(Rule::Need(vec![(Target::Run, Level::Read)]))
        );
        // Registry and logged-model routes (served by handlers elsewhere) have theirs.
        assert_eq!(
            r(Method::DELETE, "/api/2.0/mlflow/registered-models/delete"),
            Some(Rule::DeleteModel)
        );
        assert_eq!(
            r(Method::DELETE, "/api/2.0/mlflow/model-versions/delete"),
            Some(Rule::Need(vec![(Target::Model("name"), Level::Manage)]))
        );
        assert_eq!(
            r(Method::PATCH, "/api/2.0/mlflow/logged-models/{model_id}"),
            Some(Rule::Need(vec![(Target::LoggedModel, Level::Edit)]))
        );
        // The same path with a method the table does not know: no rule (admin only).
        assert_eq!(r(Method::DELETE, "/api/2.0/mlflow/runs/get"), None);
        assert_eq!(r(Method::GET, "/api/2.0/mlflow/no-such"), None);
        assert_eq!(r(Method::GET, "/health"), Some(Rule::Open));
    }
}
