//! The dashboard: server-rendered HTML pages on the same port as the API, over the same store
//! calls (`Store::list_experiments`, `Store::search_runs` with MLflow's filter grammar,
//! `Store::get_run`, ...), with the same permissions.
//!
//! Pages: `/` (experiments), `/experiments/{id}` (the runs table: filter box with the error's
//! position shown under it, column chooser with a preset for hone's keys, sortable metric
//! columns, server-side pages of 100 runs), `/runs/{run_id}` (metrics, params, datasets, child
//! runs, artifacts with downloads through the verified `mlflow-artifacts` proxy, tags). HTML is
//! rendered by askama templates (`templates/`, compiled into the binary, every value escaped);
//! the stylesheet and the one small script are served from the binary (`static/`), with a
//! Content-Security-Policy that allows nothing else: no CDN, no inline script, works offline.
//!
//! With `--auth`, a page needs READ on what it shows (a browser asks for the user's password
//! through the server's Basic challenge), and the experiments list shows what the caller can
//! read.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hone_track::accounts::{Level, ResourceKind};
use hone_track::{Run, RunStatus, SearchRequest, TrackError, ViewType};

use crate::auth::{Need, readable_set, require_all};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::{AppState, blocking};

/// Runs per page of the runs table.
const PAGE: usize = 100;
/// The most metric columns shown when the page's runs have none of hone's keys.
const PRESET_COLUMNS: usize = 8;

mod compare;
mod models;
mod report;
mod session;
mod study;
mod svg;

/// The dashboard's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(experiments))
        .route("/experiments/{experiment_id}", get(runs))
        .route("/experiments/{experiment_id}/events", get(runs_events))
        .route("/studies/{experiment_id}", get(study::page))
        .route("/studies/{experiment_id}/events", get(study::events))
        .route("/compare", get(compare::page))
        .route("/models", get(models::list))
        .route("/models/{name}", get(models::model))
        .route("/models/{name}/versions/{version}", get(models::version))
        .route(
            "/models/{name}/versions/{version}/promote",
            axum::routing::post(models::promote),
        )
        .route(
            "/models/{name}/rollback",
            axum::routing::post(models::rollback),
        )
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", get(session::logout_page).post(session::logout))
        .route("/runs/{run_id}", get(run))
        .route("/runs/{run_id}/events", get(run_events))
        .route("/runs/{run_id}/artifacts/{*path}", get(artifact))
        .route("/static/hone.css", get(css))
        .route("/static/hone.js", get(js))
        .route("/static/favicon.svg", get(favicon))
        // Pages and static files are gzipped for browsers that accept it (a run page's SVG
        // curves shrink about 3 times); tower-http's default predicate leaves the event
        // streams and small bodies alone.
        .layer(tower_http::compression::CompressionLayer::new())
}

/// What every page is sent with: HTML, never cached, and a policy that allows only this
/// server's own stylesheet and script.
fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
        ),
    );
    r
}

fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "rendering a dashboard page failed");
            ApiError::internal().into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    user: &'a str,
    title: &'a str,
    message: String,
}

/// An error as a page, with the status the API would answer.
fn error_page(user: &str, e: ApiError) -> Response {
    let title = match e.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Permission denied",
        StatusCode::BAD_REQUEST => "Bad request",
        _ => "Error",
    };
    render(
        e.status,
        &ErrorPage {
            user,
            title,
            message: e.message,
        },
    )
}

/// ISO 8601 (UTC) of milliseconds since the epoch; the page's script shows it in the reader's
/// time zone.
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A duration for people: `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
fn duration(start: i64, end: Option<i64>) -> String {
    let Some(end) = end else {
        return "running".into();
    };
    let ms = (end - start).max(0);
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{} h {:02} min", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// A metric value for people: 4 significant digits, scientific beyond 1e6 or below 1e-4.
fn number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "∞" } else { "−∞" }.into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e6).contains(&a) {
        return format!("{v:.3e}");
    }
    if v == v.trunc() && a < 1e6 {
        return format!("{v:.0}");
    }
    let digits = (4 - a.log10().floor() as i32 - 1).clamp(0, 8) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A size in bytes for people.
fn size(bytes: i64) -> String {
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

fn status_class(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "running",
        RunStatus::Scheduled => "scheduled",
        RunStatus::Finished => "finished",
        RunStatus::Failed => "failed",
        RunStatus::Killed => "killed",
    }
}

/// Checks the needs of a page for a caller who is not an administrator (no-op without auth).
async fn allowed(state: &AppState, caller: &Caller, needs: Vec<Need>) -> Result<(), ApiError> {
    match state.auth.clone() {
        Some(auth) if !caller.admin => require_all(state, &auth, caller, needs).await,
        _ => Ok(()),
    }
}

struct ExperimentRow {
    id: String,
    name: String,
    study: bool,
    created: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "experiments.html")]
struct ExperimentsPage<'a> {
    user: &'a str,
    rows: Vec<ExperimentRow>,
}

/// `GET /`: the experiments the caller can read, newest first.
async fn experiments(State(s): State<AppState>, caller: Caller) -> Response {
    let listed = blocking(&s, "web.experiments", |st| {
        Ok(st.list_experiments(ViewType::ActiveOnly)?)
    })
    .await;
    let mut list = match listed {
        Ok(l) => l,
        Err(e) => return error_page(&caller.user, e),
    };
    if let Some(auth) = s.auth.clone().filter(|_| !caller.admin) {
        match readable_set(&s, &auth, &caller, ResourceKind::Experiment).await {
            Ok(Some(readable)) => list.retain(|e| readable.contains(&e.experiment_id)),
            Ok(None) => {}
            Err(e) => return error_page(&caller.user, e),
        }
    }
    let rows = list
        .into_iter()
        .map(|e| ExperimentRow {
            study: e.tags.iter().any(|(k, _)| k == hone_track::keys::STUDY_DEF),
            id: e.experiment_id,
            name: e.name,
            created: iso(e.creation_time),
            updated: iso(e.last_update_time),
        })
        .collect();
    render(
        StatusCode::OK,
        &ExperimentsPage {
            user: &caller.user,
            rows,
        },
    )
}

/// The query of the runs table.
#[derive(Debug, Default, serde::Deserialize)]
struct RunsQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    order_by: String,
    #[serde(default)]
    columns: String,
    page_token: Option<String>,
}

/// A filter error, with the caret under the character it names.
struct FilterError {
    message: String,
    caret: Option<String>,
}

/// A column of the runs table: a metric, param or tag.
struct ColumnView {
    key: String,
    label: String,
    sort_link: String,
    arrow: &'static str,
}

struct RunRow {
    id: String,
    name: String,
    nested: bool,
    status: &'static str,
    status_class: &'static str,
    started: String,
    duration: String,
    user: String,
    cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage<'a> {
    user: &'a str,
    study: bool,
    /// The events URL of the first page (the table then follows new runs and statuses).
    live: Option<String>,
    experiment: String,
    experiment_id: String,
    filter: String,
    order_by: String,
    columns_text: String,
    error: Option<FilterError>,
    /// The column chooser: per kind (metrics, params, tags), every key of the page's runs as
    /// (grammar key, name, shown now).
    chooser: Vec<ChoiceGroup>,
    shown: usize,
    more: bool,
    columns: Vec<ColumnView>,
    rows: Vec<RunRow>,
    next_link: Option<String>,
}

/// Percent-encodes a query value or path segment (all but RFC 3986's unreserved characters).
fn q(s: &str) -> String {
    // RFC 3986's unreserved characters stay as they are.
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, KEEP).to_string()
}

/// A logical artifact path for a URL: each segment percent-encoded.
fn path_link(path: &str) -> String {
    path.split('/').map(q).collect::<Vec<_>>().join("/")
}

/// Where the `mlflow-artifacts` proxy serves a run's artifact (checksum verified).
fn download_link(experiment_id: &str, run_id: &str, path: &str) -> String {
    format!(
        "/api/2.0/mlflow-artifacts/artifacts/{}/{}/artifacts/{}",
        q(experiment_id),
        q(run_id),
        path_link(path)
    )
}

/// A column's key in MLflow's grammar: `metrics.x`, with backticks when the name needs them.
fn grammar_key(kind: &str, name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("{kind}.{name}")
    } else {
        format!("{kind}.`{name}`")
    }
}

/// hone's own keys, first in the preset: cross-validated means, holdout, trading, DSR, PBO.
fn preset_rank(key: &str) -> Option<usize> {
    if key.starts_with("cv.") && key.ends_with(".mean") {
        Some(0)
    } else if key.starts_with("holdout.") {
        Some(1)
    } else if key.starts_with("trading.") {
        Some(2)
    } else if key == "dsr" || key == "pbo" {
        Some(3)
    } else {
        None
    }
}

/// How early a metric comes in the preset: the usual headline metrics first.
fn interest(key: &str) -> usize {
    const FIRST: [&str; 12] = [
        "roc_auc",
        "log_loss",
        "accuracy",
        "rmse",
        "r2",
        "mae",
        "sharpe",
        "max_drawdown",
        "annual_return",
        "sortino",
        "f1",
        "brier",
    ];
    FIRST
        .iter()
        .position(|m| key.split('.').any(|part| part == *m))
        .unwrap_or(FIRST.len())
}

/// The columns asked for (`metrics.a, params.b, tags.c`; a bare name is a metric; `*` ends a
/// prefix), or the preset: hone's keys present on the page, else the page's first metrics.
fn choose_columns(text: &str, runs: &[Run]) -> Vec<(String, String)> {
    let mut metric_keys: Vec<&str> = runs
        .iter()
        .flat_map(|r| r.metrics.iter().map(|m| m.key.as_str()))
        .collect();
    metric_keys.sort_unstable();
    metric_keys.dedup();
    let asked: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if asked.is_empty() {
        // A few of each group (cross-validation, holdout, trading, DSR/PBO), so that one
        // group with many metrics does not crowd out the others.
        const PER_GROUP: [usize; 4] = [4, 3, 2, 2];
        let mut taken = [0usize; 4];
        let mut ranked: Vec<(usize, &str)> = Vec::new();
        // The metrics quants read first come first in each group (AUC before Brier, Sharpe
        // before kurtosis), then the rest by name.
        let mut by_interest = metric_keys.clone();
        by_interest.sort_by_key(|k| (interest(k), *k));
        for k in &by_interest {
            if let Some(r) = preset_rank(k)
                && taken[r] < PER_GROUP[r]
            {
                taken[r] += 1;
                ranked.push((r, k));
            }
        }
        ranked.sort_by_key(|(group, _)| *group);
        let keys: Vec<&str> = if ranked.is_empty() {
            metric_keys.iter().take(PRESET_COLUMNS).copied().collect()
        } else {
            ranked.into_iter().map(|(_, k)| k).collect()
        };
        return keys
            .into_iter()
            .map(|k| ("metrics".to_string(), k.to_string()))
            .collect();
    }
    let mut out = Vec::new();
    for a in asked {
        let (kind, name) = match a.split_once('.') {
            Some((k @ ("metrics" | "params" | "tags"), n)) => (k, n.trim_matches('`')),
            _ => ("metrics", a.trim_matches('`')),
        };
        match name.strip_suffix('*') {
            Some(prefix) if kind == "metrics" => out.extend(
                metric_keys
                    .iter()
                    .filter(|k| k.starts_with(prefix))
                    .map(|k| ("metrics".to_string(), k.to_string())),
            ),
            _ => out.push((kind.to_string(), name.to_string())),
        }
    }
    out.dedup();
    out
}

/// A group of the column chooser: its kind (`metrics`, `params`, `tags`) and its keys as
/// (grammar key, name, shown now).
type ChoiceGroup = (&'static str, Vec<(String, String, bool)>);

/// The most keys of one kind the column chooser lists.
const CHOOSER_KEYS: usize = 300;

/// Every metric, param and tag key of the page's runs, for the column chooser.
fn column_choices(runs: &[Run], chosen: &[(String, String)]) -> Vec<ChoiceGroup> {
    let mut metrics = std::collections::BTreeSet::new();
    let mut params = std::collections::BTreeSet::new();
    let mut tags = std::collections::BTreeSet::new();
    for r in runs {
        metrics.extend(r.metrics.iter().map(|m| m.key.as_str()));
        params.extend(r.params.iter().map(|(k, _)| k.as_str()));
        tags.extend(r.tags.iter().map(|(k, _)| k.as_str()));
    }
    let group = |kind: &'static str, keys: std::collections::BTreeSet<&str>| {
        let items = keys
            .into_iter()
            .take(CHOOSER_KEYS)
            .map(|k| {
                let on = chosen.iter().any(|(ck, cn)| ck == kind && cn == k);
                (grammar_key(kind, k), k.to_string(), on)
            })
            .collect::<Vec<_>>();
        (kind, items)
    };
    vec![
        group("metrics", metrics),
        group("params", params),
        group("tags", tags),
    ]
    .into_iter()
    .filter(|(_, items)| !items.is_empty())
    .collect()
}

fn cell(run: &Run, kind: &str, name: &str) -> String {
    let find = |list: &[(String, String)]| {
        list.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    match kind {
        "params" => find(&run.params),
        "tags" => find(&run.tags),
        _ => run
            .metrics
            .iter()
            .find(|m| m.key == name)
            .map(|m| number(m.point.value))
            .unwrap_or_default(),
    }
}

/// The 1-based character position a filter error names, if it names one.
fn error_position(message: &str) -> Option<usize> {
    let rest = message.split_once("at character ")?.1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The page's runs with each run's children (those on the page) right after it, in the
/// page's order otherwise: folds and refits read under the job that made them.
fn nested_order(runs: &[Run]) -> Vec<&Run> {
    let on_page: std::collections::HashSet<&str> =
        runs.iter().map(|r| r.info.run_id.as_str()).collect();
    let is_child_here = |r: &Run| {
        r.info
            .parent_run_id
            .as_deref()
            .is_some_and(|p| on_page.contains(p))
    };
    let mut out = Vec::with_capacity(runs.len());
    fn emit<'a>(run: &'a Run, runs: &'a [Run], out: &mut Vec<&'a Run>, depth: usize) {
        out.push(run);
        if depth > 8 {
            return;
        }
        for child in runs
            .iter()
            .filter(|c| c.info.parent_run_id.as_deref() == Some(run.info.run_id.as_str()))
        {
            emit(child, runs, out, depth + 1);
        }
    }
    for r in runs.iter().filter(|r| !is_child_here(r)) {
        emit(r, runs, &mut out, 0);
    }
    // Whatever a parent link could not place (no cycle can be stored, but a page never
    // loses a run over it) comes last, once.
    let mut placed: std::collections::HashSet<&str> = std::collections::HashSet::new();
    out.retain(|r| placed.insert(r.info.run_id.as_str()));
    for r in runs {
        if placed.insert(r.info.run_id.as_str()) {
            out.push(r);
        }
    }
    out
}

/// `GET /experiments/{id}`: the runs table.
async fn runs(
    State(s): State<AppState>,
    caller: Caller,
    Path(experiment_id): Path<String>,
    Query(mut query): Query<RunsQuery>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    // Sent with the column chooser's own button, its ticked boxes (`col=...`, repeated)
    // replace the columns box (the search button sends the box as typed).
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    if pairs.iter().any(|(k, _)| k == "chooser") {
        let ticked: Vec<&str> = pairs
            .iter()
            .filter(|(k, v)| k == "col" && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect();
        query.columns = ticked.join(", ");
    }
    let user = caller.user.clone();
    let need = vec![Need::Experiment(experiment_id.clone(), Level::Read)];
    if let Err(e) = allowed(&s, &caller, need).await {
        return error_page(&user, e);
    }
    let request = SearchRequest {
        experiment_ids: vec![experiment_id.clone()],
        filter: query.filter.clone(),
        order_by: if query.order_by.trim().is_empty() {
            Vec::new()
        } else {
            vec![query.order_by.clone()]
        },
        max_results: PAGE,
        page_token: query.page_token.clone(),
        view: ViewType::ActiveOnly,
    };
    // The filter and the sort are checked first, each on its own, so that the caret is only
    // ever drawn under the filter box's own text.
    let refused = match hone_track::filter::parse_filter(&query.filter) {
        Err(e) => {
            let message = e.to_string();
            let caret = error_position(&message).map(|p| " ".repeat(p.saturating_sub(1)));
            Some(FilterError { message, caret })
        }
        Ok(_) => request
            .order_by
            .first()
            .and_then(|o| hone_track::filter::parse_order_by(o).err())
            .map(|e| FilterError {
                message: format!("sort {:?}: {e}", query.order_by),
                caret: None,
            }),
    };
    let id = experiment_id.clone();
    let search = refused.is_none();
    let found = blocking(&s, "web.runs", move |st| {
        let experiment = st.get_experiment(&id)?;
        Ok((experiment, search.then(|| st.search_runs(&request))))
    })
    .await;
    let (experiment, searched) = match found {
        Ok(f) => f,
        Err(e) => return error_page(&user, e),
    };
    let (runs, next, error) = match searched {
        None => (Vec::new(), None, refused),
        Some(Ok((runs, next))) => (runs, next, None),
        // A page token that is not one, say.
        Some(Err(TrackError::Invalid(message))) => (
            Vec::new(),
            None,
            Some(FilterError {
                message,
                caret: None,
            }),
        ),
        Some(Err(e)) => return error_page(&user, e.into()),
    };
    let chosen = choose_columns(&query.columns, &runs);
    let chooser = column_choices(&runs, &chosen);
    let base = |order: &str, token: Option<&str>| {
        let mut link = format!(
            "/experiments/{}?filter={}&columns={}&order_by={}",
            q(&experiment_id),
            q(&query.filter),
            q(&query.columns),
            q(order)
        );
        if let Some(t) = token {
            link.push_str(&format!("&page_token={}", q(t)));
        }
        link
    };
    let columns = chosen
        .iter()
        .map(|(kind, name)| {
            let key = grammar_key(kind, name);
            let (arrow, next_order) = if query.order_by == format!("{key} DESC") {
                (" ↓", format!("{key} ASC"))
            } else if query.order_by == format!("{key} ASC") {
                (" ↑", format!("{key} DESC"))
            } else {
                ("", format!("{key} DESC"))
            };
            ColumnView {
                label: name.clone(),
                sort_link: base(&next_order, None),
                arrow,
                key,
            }
        })
        .collect();
    let rows: Vec<RunRow> = nested_order(&runs)
        .into_iter()
        .map(|r| RunRow {
            id: r.info.run_id.clone(),
            name: r.info.run_name.clone(),
            nested: r.info.parent_run_id.is_some(),
            status: r.info.status.as_str(),
            status_class: status_class(r.info.status),
            started: iso(r.info.start_time),
            duration: duration(r.info.start_time, r.info.end_time),
            user: r.info.user_id.clone(),
            cells: chosen.iter().map(|(k, n)| cell(r, k, n)).collect(),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &RunsPage {
            user: &user,
            live: (query.page_token.is_none() && error.is_none()).then(|| {
                format!(
                    "/experiments/{}/events?filter={}&order_by={}",
                    q(&experiment_id),
                    q(&query.filter),
                    q(&query.order_by)
                )
            }),
            study: experiment
                .tags
                .iter()
                .any(|(k, _)| k == hone_track::keys::STUDY_DEF),
            experiment: experiment.name,
            experiment_id: experiment_id.clone(),
            filter: query.filter.clone(),
            order_by: query.order_by.clone(),
            columns_text: query.columns.clone(),
            error,
            chooser,
            shown: rows.len(),
            more: next.is_some(),
            columns,
            next_link: next.as_deref().map(|t| base(&query.order_by, Some(t))),
            rows,
        },
    )
}

struct DatasetView {
    name: String,
    context: String,
    rows: i64,
    /// First and last row (times, when the data has them), from the dataset's schema.
    span: String,
    digest: String,
    source: String,
}

struct ArtifactView {
    path: String,
    preview: String,
    link: String,
    size: String,
    sha: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage<'a> {
    user: &'a str,
    id: String,
    name: String,
    experiment: String,
    experiment_id: String,
    status: &'static str,
    status_class: &'static str,
    started: String,
    duration: String,
    run_user: String,
    parent: Option<String>,
    metrics: Vec<(String, String, i64)>,
    params: Vec<(String, String)>,
    datasets: Vec<DatasetView>,
    children: Vec<(String, String, &'static str, &'static str)>,
    artifacts: Vec<ArtifactView>,
    tags: Vec<(String, String)>,
    environment: Vec<(String, String)>,
    report: Option<report::Report>,
    charts: Vec<ChartView>,
    chart_links: Vec<(String, String, bool)>,
    /// The events URL while the run is running (the page then updates itself).
    live: Option<String>,
}

/// One metric's curve.
struct ChartView {
    key: String,
    points: usize,
    svg: String,
}

/// `GET /runs/{run_id}`: one run, with a chart of every metric that has more than one point.
async fn run(
    State(s): State<AppState>,
    caller: Caller,
    Path(run_id): Path<String>,
    Query(chart): Query<ChartQuery>,
) -> Response {
    let user = caller.user.clone();
    if let Err(e) = allowed(&s, &caller, vec![Need::Run(run_id.clone(), Level::Read)]).await {
        return error_page(&user, e);
    }
    let blobs = s.blobs.clone();
    let loaded = blocking(&s, "web.run", move |st| {
        let run = st.get_run(&run_id)?;
        let experiment = st.get_experiment(&run.info.experiment_id)?;
        let datasets = st.run_inputs(&run_id)?;
        let children = st.child_runs(&run_id)?;
        let artifacts = st.list_artifacts(&run_id)?;
        let mut histories = Vec::new();
        for m in run.metrics.iter().take(MAX_CHARTS) {
            histories.push((m.key.clone(), st.metric_history(&run_id, &m.key)?));
        }
        // The job's report files, read through the blob store (checksums verified).
        let file = |path: &str| -> Result<Option<Vec<u8>>, ApiError> {
            match artifacts
                .iter()
                .find(|a| a.path == path && a.size <= MAX_PREVIEW_BYTES)
            {
                Some(a) => Ok(Some(blobs.get(&a.sha256, &run_id, &a.path)?)),
                None => Ok(None),
            }
        };
        let report = match file("metrics.json")? {
            Some(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(metrics) => {
                    let holdout = file("equity_holdout.csv")?;
                    let cv = file("equity_cv.csv")?;
                    let mut equity: Vec<(&str, &[u8])> = Vec::new();
                    if let Some(b) = &holdout {
                        equity.push(("holdout", b));
                    }
                    if let Some(b) = &cv {
                        equity.push(("out-of-fold (cross-validation)", b));
                    }
                    let predictions = file("holdout_predictions.csv")?;
                    Some(report::Report::build(
                        &metrics,
                        &equity,
                        predictions.as_deref(),
                    ))
                }
                Err(_) => None,
            },
            None => None,
        };
        Ok((
            run, experiment, datasets, children, artifacts, histories, report,
        ))
    })
    .await;
    let (run, experiment, datasets, children, artifacts, histories, report) = match loaded {
        Ok(l) => l,
        Err(e) => return error_page(&user, e),
    };
    let (environment, tags): (Vec<_>, Vec<_>) = run
        .tags
        .iter()
        .cloned()
        .partition(|(k, _)| is_environment_tag(k));
    let info = &run.info;
    let page = RunPage {
        user: &user,
        id: info.run_id.clone(),
        name: info.run_name.clone(),
        experiment: experiment.name,
        experiment_id: info.experiment_id.clone(),
        status: info.status.as_str(),
        status_class: status_class(info.status),
        started: iso(info.start_time),
        duration: duration(info.start_time, info.end_time),
        run_user: info.user_id.clone(),
        parent: info.parent_run_id.clone(),
        metrics: run
            .metrics
            .iter()
            .map(|m| (m.key.clone(), number(m.point.value), m.point.step))
            .collect(),
        params: run.params.clone(),
        datasets: datasets
            .into_iter()
            .map(|d| DatasetView {
                span: serde_json::from_str::<serde_json::Value>(&d.schema)
                    .ok()
                    .and_then(|v| {
                        let rows = v.get("rows")?;
                        let text = |k: &str| match rows.get(k)? {
                            serde_json::Value::String(s) => Some(s.clone()),
                            other => Some(other.to_string()),
                        };
                        Some(format!("{} → {}", text("first")?, text("last")?))
                    })
                    .unwrap_or_default(),
                name: d.name,
                context: d.context,
                rows: d.rows,
                digest: d.digest,
                source: d.source,
            })
            .collect(),
        children: children
            .into_iter()
            .map(|c| {
                (
                    c.run_id,
                    c.run_name,
                    c.status.as_str(),
                    status_class(c.status),
                )
            })
            .collect(),
        artifacts: artifacts
            .into_iter()
            .map(|a| ArtifactView {
                preview: format!("/runs/{}/artifacts/{}", q(&info.run_id), path_link(&a.path)),
                link: download_link(&info.experiment_id, &info.run_id, &a.path),
                size: size(a.size),
                sha: a.sha256,
                path: a.path,
            })
            .collect(),
        tags,
        environment,
        report,
        charts: charts(&histories, &chart),
        chart_links: chart_links(&info.run_id, &chart),
        live: matches!(info.status, RunStatus::Running | RunStatus::Scheduled)
            .then(|| format!("/runs/{}/events", q(&info.run_id))),
    };
    render(StatusCode::OK, &page)
}

/// Tags that describe where a run ran (shown as its environment, not among its tags).
fn is_environment_tag(key: &str) -> bool {
    use hone_track::keys;
    [
        keys::VERSION,
        keys::COMMAND,
        keys::OS,
        keys::CORES,
        keys::CPU,
        keys::MEMORY_GB,
        keys::GPU,
        keys::CONFIG,
        keys::FINGERPRINT,
        keys::OUT_DIR,
        keys::DEPENDENCIES,
        "mlflow.source.name",
        "mlflow.source.type",
        "mlflow.source.git.commit",
        "mlflow.user",
    ]
    .contains(&key)
}

/// The charts of a run's metric histories, as the query asks.
fn charts(histories: &[(String, Vec<hone_track::MetricPoint>)], q: &ChartQuery) -> Vec<ChartView> {
    let (time, log, weight) = (q.time(), q.log(), q.smoothing());
    histories
        .iter()
        .filter(|(_, h)| h.len() > 1)
        .filter_map(|(key, h)| {
            let ys: Vec<f64> = smooth(&h.iter().map(|p| p.value).collect::<Vec<_>>(), weight);
            let pts: Vec<(f64, f64)> = h
                .iter()
                .zip(ys)
                .map(|(p, y)| {
                    let x = if time {
                        p.timestamp as f64
                    } else {
                        p.step as f64
                    };
                    (x, y)
                })
                .collect();
            let mut plot = svg::Plot::small(vec![svg::Series::new("s0", svg::Mark::Line, pts)]);
            plot.log_y = log;
            plot.x_scale = if time {
                svg::Scale::Elapsed
            } else {
                svg::Scale::Number
            };
            plot.render().map(|svg| ChartView {
                key: key.clone(),
                points: h.len(),
                svg,
            })
        })
        .collect()
}

/// The links that switch the charts' axis, scale and smoothing (label, link, whether on).
fn chart_links(run_id: &str, query: &ChartQuery) -> Vec<(String, String, bool)> {
    let (time, log, smooth) = (query.time(), query.log(), query.smoothing());
    let link = |time: bool, log: bool, smooth: f64| {
        format!(
            "/runs/{}?x={}&log={}&smooth={}",
            q(run_id),
            if time { "time" } else { "step" },
            u8::from(log),
            smooth
        )
    };
    vec![
        ("step".into(), link(false, log, smooth), !time),
        ("time".into(), link(true, log, smooth), time),
        ("log scale".into(), link(time, !log, smooth), log),
        (
            "smoothing 0.6".into(),
            link(time, log, if smooth > 0.0 { 0.0 } else { 0.6 }),
            smooth > 0.0,
        ),
    ]
}

/// How often a live page's stream looks at its run.
const LIVE_EVERY: std::time::Duration = std::time::Duration::from_millis(400);
/// The longest one stream lives (the page reconnects by itself after it).
const LIVE_FOR: std::time::Duration = std::time::Duration::from_secs(3600);

/// What a live page watches: the run's status and latest metrics.
fn run_state(run: &Run) -> String {
    let mut s = format!("{}|{:?}", run.info.status.as_str(), run.info.end_time);
    for m in &run.metrics {
        s.push_str(&format!(
            "|{}:{}:{}:{}",
            m.key, m.point.step, m.point.timestamp, m.point.value
        ));
    }
    s
}

/// `GET /experiments/{id}/events?filter=&order_by=`: `changed` when a run of the table's first
/// page (same filter and order) starts, ends or logs.
async fn runs_events(
    State(s): State<AppState>,
    caller: Caller,
    Path(experiment_id): Path<String>,
    Query(query): Query<RunsQuery>,
) -> Response {
    let need = vec![Need::Experiment(experiment_id.clone(), Level::Read)];
    if let Err(e) = allowed(&s, &caller, need).await {
        return e.into_response();
    }
    let request = SearchRequest {
        experiment_ids: vec![experiment_id],
        filter: query.filter,
        order_by: if query.order_by.trim().is_empty() {
            Vec::new()
        } else {
            vec![query.order_by]
        },
        max_results: PAGE,
        page_token: None,
        view: ViewType::ActiveOnly,
    };
    watch(s, std::time::Duration::from_secs(1), move |st| {
        let (runs, _) = st.search_runs(&request)?;
        let state: Vec<String> = runs
            .iter()
            .map(|r| format!("{}@{}", r.info.run_id, run_state(r)))
            .collect();
        Ok((state.join(";"), true))
    })
}

/// `GET /runs/{run_id}/events`: server-sent events for a live run page. The server looks at
/// the run every [`LIVE_EVERY`] and sends `changed` when its status or a latest metric moved
/// (the page then fetches its new curves and tables), and `ended` once the run is over.
async fn run_events(
    State(s): State<AppState>,
    caller: Caller,
    Path(run_id): Path<String>,
) -> Response {
    if let Err(e) = allowed(&s, &caller, vec![Need::Run(run_id.clone(), Level::Read)]).await {
        return e.into_response();
    }
    watch(s, LIVE_EVERY, move |st| {
        let run = st.get_run(&run_id)?;
        let running = matches!(run.info.status, RunStatus::Running | RunStatus::Scheduled);
        Ok((run_state(&run), running))
    })
}

/// A live page's event stream. Every `every`, `look` reads what the page shows and says
/// whether it can still change; the stream sends `hello` first, `changed` when the state
/// moved (the page then fetches itself and swaps its live part), and `ended` (then closes)
/// once nothing more can change or what it watches is gone. Streams end after [`LIVE_FOR`].
fn watch<F>(s: AppState, every: std::time::Duration, look: F) -> Response
where
    F: Fn(&dyn hone_track::Backend) -> Result<(String, bool), ApiError>
        + Send
        + Sync
        + Clone
        + 'static,
{
    use axum::response::sse::{Event, KeepAlive, Sse};
    let started = std::time::Instant::now();
    // (state seen last, whether the stream is over)
    let stream = futures::stream::unfold((None::<String>, false), move |(last, over)| {
        let s = s.clone();
        let look = look.clone();
        async move {
            if over || started.elapsed() > LIVE_FOR {
                return None;
            }
            loop {
                let f = look.clone();
                let Ok((state, live)) = blocking(&s, "web.live", move |st| f(st)).await else {
                    let event = Event::default().event("ended").data("gone");
                    return Some((Ok::<_, std::convert::Infallible>(event), (last, true)));
                };
                if last.as_deref() != Some(state.as_str()) {
                    // `ended` also for a page already over at the first look, so that the
                    // page closes the stream instead of reconnecting to it.
                    let name = if !live {
                        "ended"
                    } else if last.is_none() {
                        "hello"
                    } else {
                        "changed"
                    };
                    let event = Event::default().event(name).data(name);
                    return Some((Ok(event), (Some(state), !live)));
                }
                tokio::time::sleep(every).await;
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The largest artifact the dashboard previews (larger ones are offered for download only).
const MAX_PREVIEW_BYTES: i64 = 32 * 1024 * 1024;
/// At most this many rows of a CSV, and bytes of a text, are shown.
const PREVIEW_ROWS: usize = 200;
const PREVIEW_TEXT: usize = 256 * 1024;

/// What an artifact page shows.
enum Preview {
    /// A CSV file: its header, the first rows, and how many rows it has.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        total: usize,
        shown: usize,
    },
    /// Text (JSON pretty-printed), possibly cut.
    Text { text: String, cut: bool },
    /// An image, shown from the download link.
    Image,
    /// Why there is no preview.
    None(String),
}

#[derive(Template)]
#[template(path = "artifact.html")]
struct ArtifactPage<'a> {
    user: &'a str,
    run_id: String,
    run_name: String,
    path: String,
    size: String,
    sha: String,
    download: String,
    preview: Preview,
}

/// The preview of an artifact's bytes, by its file name.
fn preview(path: &str, bytes: &[u8]) -> Preview {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" => Preview::Image,
        "csv" => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(true)
                .from_reader(bytes);
            let header = match reader.headers() {
                Ok(h) => h.iter().map(str::to_string).collect(),
                Err(e) => return Preview::None(format!("not a CSV file this page can read: {e}")),
            };
            let mut rows = Vec::new();
            let mut total = 0;
            for record in reader.records() {
                match record {
                    Ok(r) => {
                        if rows.len() < PREVIEW_ROWS {
                            rows.push(r.iter().map(str::to_string).collect());
                        }
                        total += 1;
                    }
                    Err(e) => {
                        return Preview::None(format!("not a CSV file this page can read: {e}"));
                    }
                }
            }
            Preview::Table {
                shown: rows.len(),
                header,
                rows,
                total,
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(bytes) else {
                return Preview::None("binary content: no preview".into());
            };
            let text = if ext == "json" {
                serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or_else(|| text.to_string())
            } else {
                text.to_string()
            };
            let cut = text.len() > PREVIEW_TEXT;
            let mut end = PREVIEW_TEXT.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            Preview::Text {
                text: text[..end].to_string(),
                cut,
            }
        }
    }
}

/// `GET /runs/{run_id}/artifacts/{*path}`: one artifact, previewed (CSV as a table, JSON
/// pretty-printed, text, images), read through the blob store, which checks its SHA-256.
async fn artifact(
    State(s): State<AppState>,
    caller: Caller,
    Path((run_id, path)): Path<(String, String)>,
) -> Response {
    let user = caller.user.clone();
    if let Err(e) = allowed(&s, &caller, vec![Need::Run(run_id.clone(), Level::Read)]).await {
        return error_page(&user, e);
    }
    let blobs = s.blobs.clone();
    let wanted = path.clone();
    let loaded = blocking(&s, "web.artifact", move |st| {
        let run = st.get_run(&run_id)?;
        let record = st
            .list_artifacts(&run_id)?
            .into_iter()
            .find(|a| a.path == wanted)
            .ok_or_else(|| {
                ApiError::not_found(format!("run {run_id} has no artifact {wanted:?}"))
            })?;
        let bytes = if record.size <= MAX_PREVIEW_BYTES {
            Some(blobs.get(&record.sha256, &run_id, &record.path)?)
        } else {
            None
        };
        Ok((run, record, bytes))
    })
    .await;
    let (run, record, bytes) = match loaded {
        Ok(l) => l,
        Err(e) => return error_page(&user, e),
    };
    let download = download_link(&run.info.experiment_id, &run.info.run_id, &record.path);
    let preview = match &bytes {
        Some(b) => preview(&record.path, b),
        None => Preview::None(format!(
            "{} is larger than the {} the dashboard previews: download it",
            size(record.size),
            size(MAX_PREVIEW_BYTES)
        )),
    };
    render(
        StatusCode::OK,
        &ArtifactPage {
            user: &user,
            run_id: run.info.run_id.clone(),
            run_name: run.info.run_name.clone(),
            path: record.path.clone(),
            size: size(record.size),
            sha: record.sha256.clone(),
            download,
            preview,
        },
    )
}

async fn css() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../../static/hone.css"),
    )
}

async fn js() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/hone.js"),
    )
}

async fn favicon() -> Response {
    static_file("image/svg+xml", include_str!("../../static/favicon.svg"))
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// How the run page draws its curves (`?x=time&log=1&smooth=0.6`).
#[derive(Debug, Default, serde::Deserialize)]
struct ChartQuery {
    /// `step` (default) or `time` on the x axis.
    #[serde(default)]
    x: String,
    /// A log scale on the y axis (values ≤ 0 are left out).
    #[serde(default)]
    log: Option<String>,
    /// Exponential smoothing weight in [0, 1) (TensorBoard's, debiased).
    smooth: Option<f64>,
}

impl ChartQuery {
    fn time(&self) -> bool {
        self.x == "time"
    }

    fn log(&self) -> bool {
        self.log.as_deref().is_some_and(|v| v == "1" || v == "true")
    }

    fn smoothing(&self) -> f64 {
        self.smooth.unwrap_or(0.0)
    }
}

/// The most curves one run page draws.
const MAX_CHARTS: usize = 24;
/// Exponential moving average with TensorBoard's debiasing.
fn smooth(values: &[f64], weight: f64) -> Vec<f64> {
    if !(0.0..1.0).contains(&weight) || weight == 0.0 {
        return values.to_vec();
    }
    let mut last = 0.0;
    let mut n = 0;
    values
        .iter()
        .map(|v| {
            if !v.is_finite() {
                return *v;
            }
            last = last * weight + (1.0 - weight) * v;
            n += 1;
            last / (1.0 - weight.powi(n))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(number(0.5512345), "0.5512");
        assert_eq!(number(12.0), "12");
        assert_eq!(number(1234.5678), "1235");
        assert_eq!(number(0.00012346), "0.0001235");
        assert_eq!(number(1.5e-7), "1.500e-7");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(-0.25), "-0.25");
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(duration(0, Some(850)), "850 ms");
        assert_eq!(duration(0, Some(12_345)), "12.3 s");
        assert_eq!(duration(0, Some(245_000)), "4 min 05 s");
        assert_eq!(duration(0, None), "running");
        assert_eq!(size(2048), "2.0 KiB");
    }

    #[test]
    fn filter_errors_name_their_position() {
        assert_eq!(
            error_position("invalid filter at character 12 (near `x`): expected a value"),
            Some(12)
        );
        assert_eq!(error_position("something else"), None);
    }

    #[test]
    fn curves_are_smoothed_and_drawn_from_numbers_only() {
        assert_eq!(smooth(&[1.0, 2.0], 0.0), [1.0, 2.0]);
        let s = smooth(&[1.0, 1.0, 1.0], 0.6);
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-12), "debiased: {s:?}");
    }

    #[test]
    fn the_preset_puts_headline_metrics_first() {
        let mut run = Run {
            info: hone_track::RunInfo {
                run_id: "r".into(),
                experiment_id: "1".into(),
                run_name: "r".into(),
                parent_run_id: None,
                status: RunStatus::Finished,
                start_time: 0,
                end_time: Some(1),
                user_id: "u".into(),
                lifecycle: hone_track::Lifecycle::Active,
            },
            params: Vec::new(),
            metrics: Vec::new(),
            tags: Vec::new(),
        };
        for k in [
            "cv.accuracy.mean",
            "cv.brier.mean",
            "cv.f1.mean",
            "cv.log_loss.mean",
            "cv.mcc.mean",
            "cv.roc_auc.mean",
            "holdout.roc_auc",
            "dsr",
        ] {
            run.metrics.push(hone_track::Metric {
                key: k.into(),
                point: hone_track::MetricPoint {
                    value: 0.5,
                    timestamp: 0,
                    step: 0,
                },
            });
        }
        let keys: Vec<String> = choose_columns("", &[run])
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        assert_eq!(
            keys,
            [
                "cv.roc_auc.mean",
                "cv.log_loss.mean",
                "cv.accuracy.mean",
                "cv.f1.mean",
                "holdout.roc_auc",
                "dsr"
            ]
        );
    }

    #[test]
    fn column_keys_use_backticks_when_needed() {
        assert_eq!(grammar_key("metrics", "auc"), "metrics.auc");
        assert_eq!(
            grammar_key("metrics", "cv.auc.mean"),
            "metrics.`cv.auc.mean`"
        );
    }
}
