//! The registry pages: `/models` (registered models with their production version and
//! aliases), `/models/{name}` (versions with semver, stage and aliases, the lineage graph back
//! to the dataset, performance over time from `hone evaluate`, the changelog) and
//! `/models/{name}/versions/{version}` (the checks `hone models promote` runs — gates and the
//! significance test against production — shown before the promote and rollback forms, which
//! only users with MANAGE on the model see and may post). Store reads go through
//! `hone_track::Registry`; the changelog, history, checks and moves through
//! [`crate::analyses::Analyses`] (`hone-train`'s registry functions, as the CLI calls them).

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hone_track::accounts::{Level, ResourceKind};
use hone_track::keys;
use hone_track::{ModelVersion, RegisteredModel};

use super::session::{check_csrf, csrf_token};
use super::svg::{Mark, Plot, Scale, Series, esc};
use super::{allowed, error_page, iso, number, q, render};
use crate::analyses::{ChangeView, HistoryView, PromotionView};
use crate::auth::{Need, readable_set};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::{AppState, blocking};

struct ModelRow {
    name: String,
    description: String,
    production: String,
    aliases: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "models.html")]
struct ModelsPage<'a> {
    user: &'a str,
    rows: Vec<ModelRow>,
}

/// `GET /models`: the registered models the caller can read.
pub(super) async fn list(State(s): State<AppState>, caller: Caller) -> Response {
    let listed = blocking(&s, "web.models", |st| {
        let models = st.list_registered_models("")?;
        let mut out = Vec::new();
        for m in models {
            let production = st
                .get_model_version_by_alias(&m.name, hone_track::PRODUCTION_ALIAS)
                .ok();
            out.push((m, production));
        }
        Ok(out)
    })
    .await;
    let mut list = match listed {
        Ok(l) => l,
        Err(e) => return error_page(&caller.user, e),
    };
    if let Some(auth) = s.auth.clone().filter(|_| !caller.admin) {
        match readable_set(&s, &auth, &caller, ResourceKind::RegisteredModel).await {
            Ok(Some(readable)) => list.retain(|(m, _)| readable.contains(&m.name)),
            Ok(None) => {}
            Err(e) => return error_page(&caller.user, e),
        }
    }
    let rows = list
        .into_iter()
        .map(|(m, p): (RegisteredModel, Option<ModelVersion>)| ModelRow {
            production: p.map_or_else(String::new, |v| label(&v)),
            aliases: m
                .aliases
                .iter()
                .map(|(a, v)| format!("@{a} → {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            updated: iso(m.last_updated_time),
            description: m.description,
            name: m.name,
        })
        .collect();
    render(
        StatusCode::OK,
        &ModelsPage {
            user: &caller.user,
            rows,
        },
    )
}

/// `v3 (1.2.0)`.
fn label(v: &ModelVersion) -> String {
    match &v.semver {
        Some(s) => format!("v{} ({s})", v.version),
        None => format!("v{}", v.version),
    }
}

/// `@production @champion`.
fn aliases(v: &ModelVersion) -> String {
    v.aliases
        .iter()
        .map(|a| format!("@{a}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tag<'a>(v: &'a ModelVersion, key: &str) -> Option<&'a str> {
    v.tags
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, x)| x.as_str())
}

struct VersionRow {
    version: u32,
    semver: String,
    stage: &'static str,
    aliases: String,
    run_id: String,
    dataset: String,
    created: String,
    user: String,
    description: String,
}

#[derive(Template)]
#[template(path = "model.html")]
struct ModelPage<'a> {
    user: &'a str,
    name: String,
    description: String,
    versions: Vec<VersionRow>,
    lineage: Option<String>,
    performance: Option<String>,
    performance_metric: String,
    evaluations: Vec<(String, String, String, String, bool)>,
    warnings: Vec<String>,
    changes: Vec<(String, ChangeView)>,
    notes: Vec<String>,
    can_manage: bool,
    csrf: String,
    /// The version a rollback would restore, shown on its button (only with MANAGE).
    rollback_to: Option<u32>,
    message: Option<String>,
}

/// The lineage graph: datasets (by digest) → training runs → versions, and each version's
/// parent version, as SVG (only escaped text and numbers; links to runs and versions).
fn lineage_svg(name: &str, versions: &[ModelVersion]) -> Option<String> {
    if versions.is_empty() {
        return None;
    }
    let mut datasets: Vec<(String, String)> = Vec::new();
    for v in versions {
        let digest = tag(v, keys::LINEAGE_DATASET_DIGEST)
            .unwrap_or("")
            .to_string();
        let source = tag(v, keys::LINEAGE_DATASET)
            .unwrap_or("unknown data")
            .to_string();
        if !datasets.iter().any(|(d, _)| *d == digest) {
            datasets.push((digest, source));
        }
    }
    let row = 34.0;
    let height = row * versions.len().max(datasets.len()) as f64 + 16.0;
    let (dx, rx, vx, w) = (8.0, 300.0, 520.0, 200.0);
    let mut out = format!("<svg class=\"lineage\" viewBox=\"0 0 760 {height}\" role=\"img\">");
    let y = |i: usize| 8.0 + row * i as f64;
    let version_row: BTreeMap<u32, usize> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| (v.version, i))
        .collect();
    for (i, v) in versions.iter().enumerate() {
        let digest = tag(v, keys::LINEAGE_DATASET_DIGEST).unwrap_or("");
        let d = datasets.iter().position(|(x, _)| x == digest).unwrap_or(0);
        out.push_str(&format!(
            "<path class=\"edge\" d=\"M{:.1},{:.1} L{rx},{:.1}\"/>\
             <path class=\"edge\" d=\"M{:.1},{:.1} L{vx},{:.1}\"/>",
            dx + 270.0,
            y(d) + 12.0,
            y(i) + 12.0,
            rx + w,
            y(i) + 12.0,
            y(i) + 12.0,
        ));
        if let Some(p) = tag(v, keys::LINEAGE_PARENT)
            .and_then(|p| p.parse::<u32>().ok())
            .and_then(|p| version_row.get(&p))
        {
            out.push_str(&format!(
                "<path class=\"edge parent\" d=\"M{x},{:.1} C{c},{:.1} {c},{:.1} {x},{:.1}\"/>",
                y(*p) + 12.0,
                y(*p) + 12.0,
                y(i) + 12.0,
                y(i) + 12.0,
                x = vx + w,
                c = vx + w + 30.0,
            ));
        }
        let run_short: String = v.source_run_id.chars().take(12).collect();
        out.push_str(&format!(
            "<a href=\"/runs/{}\"><rect class=\"node run\" x=\"{rx}\" y=\"{:.1}\" width=\"{w}\" height=\"24\" rx=\"4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">run {}</text></a>\
             <a href=\"/models/{}/versions/{}\"><rect class=\"node version {}\" x=\"{vx}\" y=\"{:.1}\" width=\"{w}\" height=\"24\" rx=\"4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} · {}</text></a>",
            esc(&q(&v.source_run_id)),
            y(i),
            rx + 8.0,
            y(i) + 16.0,
            esc(&run_short),
            esc(&q(name)),
            v.version,
            v.current_stage.name(),
            y(i),
            vx + 8.0,
            y(i) + 16.0,
            esc(&label(v)),
            v.current_stage.name(),
        ));
    }
    for (i, (digest, source)) in datasets.iter().enumerate() {
        let file = source.rsplit('/').next().unwrap_or(source);
        let short: String = digest.chars().take(10).collect();
        out.push_str(&format!(
            "<rect class=\"node dataset\" x=\"{dx}\" y=\"{:.1}\" width=\"270\" height=\"24\" rx=\"4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} · {}<title>{}</title></text>",
            y(i),
            dx + 8.0,
            y(i) + 16.0,
            esc(&file.chars().take(26).collect::<String>()),
            esc(&short),
            esc(&format!("{source} (sha256 {digest})")),
        ));
    }
    out.push_str("</svg>");
    Some(out)
}

/// The followed metric over time, one series per version (dots joined in time order).
fn performance_svg(history: &HistoryView) -> Option<String> {
    let metric = history.metric.as_deref()?;
    let mut by_version: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
    for e in &history.evaluations {
        if let Some((_, v)) = e.metrics.iter().find(|(k, _)| k == metric) {
            by_version
                .entry(e.version)
                .or_default()
                .push((e.time as f64, *v));
        }
    }
    let series: Vec<Series> = by_version
        .into_values()
        .enumerate()
        .flat_map(|(i, pts)| {
            let class = format!("s{}", i % 10);
            [
                Series::new(class.clone(), Mark::Line, pts.clone()),
                Series::new(class, Mark::Dots, pts),
            ]
        })
        .collect();
    let mut plot = Plot::wide(series);
    plot.x_scale = Scale::Date;
    plot.y_title = metric.to_string();
    plot.render()
}

/// Whether the caller may promote and roll back versions of `name`.
async fn can_manage(s: &AppState, caller: &Caller, name: &str) -> bool {
    allowed(
        s,
        caller,
        vec![Need::Model(name.to_string(), Level::Manage)],
    )
    .await
    .is_ok()
}

/// `?done=` of a model page: what the promotion or rollback just posted did.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

/// `GET /models/{name}`.
pub(super) async fn model(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> Response {
    model_page(s, caller, name, done.done).await
}

/// After a form: back to the model's page (a reload then does not post again), saying what
/// happened.
fn after_form(name: &str, message: &str) -> Response {
    axum::response::Redirect::to(&format!("/models/{}?done={}", q(name), q(message)))
        .into_response()
}

async fn model_page(
    s: AppState,
    caller: Caller,
    name: String,
    message: Option<String>,
) -> Response {
    let user = caller.user.clone();
    if let Err(e) = allowed(&s, &caller, vec![Need::Model(name.clone(), Level::Read)]).await {
        return error_page(&user, e);
    }
    let analyses = s.analyses.clone();
    let wanted = name.clone();
    let loaded = blocking(&s, "web.model", move |st| {
        let model = st.get_registered_model(&wanted)?;
        let versions = st.list_model_versions(&wanted)?;
        let mut datasets = Vec::new();
        for v in &versions {
            datasets.push(tag(v, keys::LINEAGE_DATASET).unwrap_or("").to_string());
        }
        let extra = analyses.as_ref().map(|a| {
            (
                a.changelog(st, &wanted),
                a.history(st, &wanted),
                a.rollback_target(st, &wanted),
            )
        });
        Ok((model, versions, extra))
    })
    .await;
    let (model, mut versions, extra) = match loaded {
        Ok(l) => l,
        Err(e) => return error_page(&user, e),
    };
    versions.sort_by_key(|v| v.version);
    let mut notes = Vec::new();
    let mut rollback_to = None;
    let (changes, history) = match extra {
        Some((c, h, r)) => {
            rollback_to = r.unwrap_or_else(|e| {
                notes.push(format!("rollback: {e}"));
                None
            });
            let changes = c.unwrap_or_else(|e| {
                notes.push(format!("changelog: {e}"));
                Vec::new()
            });
            let history = h.unwrap_or_else(|e| {
                notes.push(format!("performance over time: {e}"));
                HistoryView::default()
            });
            (changes, history)
        }
        None => {
            notes.push(
                "the changelog, performance over time and promotion need `hone server` (this \
                 server runs without hone's training library)"
                    .into(),
            );
            (Vec::new(), HistoryView::default())
        }
    };
    let manage = can_manage(&s, &caller, &name).await && s.analyses.is_some();
    let page = ModelPage {
        user: &user,
        description: model.description.clone(),
        lineage: lineage_svg(&name, &versions),
        performance: performance_svg(&history),
        performance_metric: history.metric.clone().unwrap_or_default(),
        evaluations: history
            .evaluations
            .iter()
            .rev()
            .take(50)
            .map(|e| {
                let value = history
                    .metric
                    .as_deref()
                    .and_then(|m| e.metrics.iter().find(|(k, _)| k == m))
                    .map_or_else(String::new, |(_, v)| number(*v));
                (
                    iso(e.time),
                    format!("v{}", e.version),
                    format!("{} ({} → {})", e.data, e.period.0, e.period.1),
                    value,
                    e.gates_passed,
                )
            })
            .collect(),
        warnings: history.warnings.clone(),
        changes: changes.into_iter().map(|c| (iso(c.time), c)).collect(),
        notes,
        rollback_to: rollback_to.filter(|_| manage),
        can_manage: manage,
        csrf: csrf_token(&s, &caller),
        message,
        versions: versions
            .iter()
            .rev()
            .map(|v| VersionRow {
                version: v.version,
                semver: v.semver.clone().unwrap_or_default(),
                stage: v.current_stage.name(),
                aliases: aliases(v),
                run_id: v.source_run_id.clone(),
                dataset: tag(v, keys::LINEAGE_DATASET)
                    .map(|d| d.rsplit('/').next().unwrap_or(d).to_string())
                    .unwrap_or_default(),
                created: iso(v.creation_time),
                user: v.user_id.clone(),
                description: v.description.clone(),
            })
            .collect(),
        name,
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "version.html")]
struct VersionPage<'a> {
    user: &'a str,
    name: String,
    version: u32,
    label: String,
    stage: &'static str,
    aliases: String,
    run_id: String,
    lineage: Vec<(String, String)>,
    check: Option<Result<PromotionView, String>>,
    can_manage: bool,
    csrf: String,
    stages: Vec<&'static str>,
}

/// `GET /models/{name}/versions/{version}`: a version, its lineage tags, and the checks a
/// promotion runs, shown before the promote form.
pub(super) async fn version(
    State(s): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    let user = caller.user.clone();
    let version = match version_number(&version) {
        Ok(v) => v,
        Err(e) => return error_page(&user, e),
    };
    if let Err(e) = allowed(&s, &caller, vec![Need::Model(name.clone(), Level::Read)]).await {
        return error_page(&user, e);
    }
    let analyses = s.analyses.clone();
    let blobs = s.blobs.clone();
    let wanted = name.clone();
    let loaded = blocking(&s, "web.version", move |st| {
        let v = st.get_model_version(&wanted, version)?;
        let check = analyses
            .as_ref()
            .map(|a| a.check_promotion(st, &blobs, &wanted, version));
        Ok((v, check))
    })
    .await;
    let (v, check) = match loaded {
        Ok(l) => l,
        Err(e) => return error_page(&user, e),
    };
    let manage = can_manage(&s, &caller, &name).await && s.analyses.is_some();
    let stages = ["staging", "production"]
        .into_iter()
        .filter(|st| *st != v.current_stage.name())
        .collect();
    render(
        StatusCode::OK,
        &VersionPage {
            user: &user,
            label: label(&v),
            version: v.version,
            stage: v.current_stage.name(),
            aliases: aliases(&v),
            run_id: v.source_run_id.clone(),
            lineage: v
                .tags
                .iter()
                .filter_map(|(k, x)| {
                    k.strip_prefix(keys::LINEAGE_PREFIX)
                        .map(|short| (short.to_string(), x.clone()))
                })
                .collect(),
            check,
            can_manage: manage,
            csrf: csrf_token(&s, &caller),
            stages,
            name,
        },
    )
}

/// A version number from a URL.
fn version_number(text: &str) -> Result<u32, ApiError> {
    text.parse().map_err(|_| {
        ApiError::invalid(format!(
            "version {text:?}: expected a version number (1, 2, ...)"
        ))
    })
}

/// The promote form.
#[derive(Debug, serde::Deserialize)]
pub(super) struct PromoteForm {
    stage: String,
    #[serde(default)]
    force: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /models/{name}/versions/{version}/promote`: needs MANAGE on the model and the page's
/// CSRF token; the move is `hone models promote` (blocked when a check fails, unless forced
/// with a reason), recorded under the signed-in user.
pub(super) async fn promote(
    State(s): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    Form(form): Form<PromoteForm>,
) -> Response {
    let user = caller.user.clone();
    if let Err(e) = check_csrf(&s, &caller, &headers, &form.csrf) {
        return error_page(&user, e);
    }
    let version = match version_number(&version) {
        Ok(v) => v,
        Err(e) => return error_page(&user, e),
    };
    if let Err(e) = allowed(&s, &caller, vec![Need::Model(name.clone(), Level::Manage)]).await {
        return error_page(&user, e);
    }
    let Some(analyses) = s.analyses.clone() else {
        return error_page(&user, ApiError::invalid("promotion needs `hone server`"));
    };
    let blobs = s.blobs.clone();
    let (n, who) = (name.clone(), user.clone());
    let force = form.force.is_some();
    let done = blocking(&s, "web.promote", move |st| {
        analyses
            .promote(
                st,
                &blobs,
                &n,
                version,
                &form.stage,
                force,
                &form.reason,
                &who,
            )
            .map_err(ApiError::invalid)
    })
    .await;
    match done {
        Ok(message) => after_form(&name, &message),
        Err(e) => error_page(&user, e),
    }
}

/// The rollback form.
#[derive(Debug, serde::Deserialize)]
pub(super) struct RollbackForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /models/{name}/rollback`: production back to the version before (MANAGE, CSRF).
pub(super) async fn rollback(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    Form(form): Form<RollbackForm>,
) -> Response {
    let user = caller.user.clone();
    if let Err(e) = check_csrf(&s, &caller, &headers, &form.csrf) {
        return error_page(&user, e);
    }
    if let Err(e) = allowed(&s, &caller, vec![Need::Model(name.clone(), Level::Manage)]).await {
        return error_page(&user, e);
    }
    let Some(analyses) = s.analyses.clone() else {
        return error_page(&user, ApiError::invalid("rollback needs `hone server`"));
    };
    let (n, who) = (name.clone(), user.clone());
    let done = blocking(&s, "web.rollback", move |st| {
        analyses
            .rollback(st, &n, &form.reason, &who)
            .map_err(ApiError::invalid)
    })
    .await;
    match done {
        Ok(message) => after_form(&name, &message),
        Err(e) => error_page(&user, e),
    }
}
