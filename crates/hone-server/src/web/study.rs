//! The study page (`/studies/{experiment_id}`): a `hone tune` / `hone study` study read with
//! the same library calls as `hone study` (`hone_study::study_of`, `TrackTrialStore`), drawn
//! as the optimisation history with the running best, PED-ANOVA parameter importances
//! (`hone_tune::importance::ped_anova`), parallel coordinates, slice plots, intermediate
//! values with pruned trials marked, the Pareto front of a multi-objective study
//! (`hone_tune::pareto`) and the trial table. While trials run, the page follows the study
//! over server-sent events.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hone_study::{TrackTrialStore, revisions_of, study_of};
use hone_track::Backend;
use hone_track::accounts::Level;
use hone_tune::adapt::{SpaceRevision, current_space};
use hone_tune::importance::ped_anova;
use hone_tune::pareto::pareto_front;
use hone_tune::space::{Distribution, ParamValue};
use hone_tune::study::StudyDef;
use hone_tune::trial::{Trial, TrialState};

use super::svg::{Axis, Mark, Plot, Series, bars, parallel};
use super::{allowed, duration, error_page, iso, number, q, render};
use crate::auth::Need;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::{AppState, blocking};

/// The most trials whose intermediate curves one page draws (the latest ones).
const MAX_CURVES: usize = 300;
/// The most rows of the trial table (the latest trials).
const MAX_ROWS: usize = 2000;

/// A row of the trial table.
struct TrialRow {
    number: u64,
    run_id: String,
    state: &'static str,
    state_class: &'static str,
    values: String,
    params: Vec<String>,
    started: String,
    duration: String,
    best: bool,
}

/// One figure of the page: a caption and its SVG.
struct Figure {
    caption: String,
    svg: String,
}

#[derive(Template)]
#[template(path = "study.html")]
struct StudyPage<'a> {
    user: &'a str,
    name: String,
    experiment_id: String,
    sampler: String,
    pruner: String,
    objectives: Vec<String>,
    counts: Vec<(&'static str, usize)>,
    best: Vec<String>,
    history: Vec<Figure>,
    importances: Option<Figure>,
    parallel: Option<String>,
    slices: Vec<Figure>,
    intermediate: Option<String>,
    pareto: Option<Figure>,
    pareto_note: String,
    param_names: Vec<String>,
    rows: Vec<TrialRow>,
    hidden_rows: usize,
    live: Option<String>,
    /// The search space's revisions (`[search] adapt`), as sentences.
    revisions: Vec<String>,
}

fn state_class(s: TrialState) -> &'static str {
    match s {
        TrialState::Complete => "finished",
        TrialState::Pruned => "pruned",
        TrialState::Fail => "failed",
        TrialState::Running | TrialState::Waiting => "running",
    }
}

/// A study as the page shows it: its definition with the space as revised so far, the
/// revisions (`[search] adapt`), and its trials with their run ids.
pub(super) type Loaded = (StudyDef, Vec<SpaceRevision>, Vec<(Trial, String)>);

/// Reads a study, its space revisions and its trials (with run ids) from the store.
pub(super) fn load(store: &Arc<dyn Backend>, experiment_id: &str) -> Result<Loaded, ApiError> {
    let exp = store.get_experiment(experiment_id)?;
    let mut def = study_of(&exp)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "experiment {experiment_id} is not a study (it was not made by `hone tune` or \
                 `hone study create`)"
            ))
        })?
        .map_err(tune_error)?;
    let revisions = revisions_of(&exp).map_err(tune_error)?;
    let trials = TrackTrialStore::new(store.clone(), experiment_id.to_string(), def.clone(), true)
        .trials_with_runs()
        .map_err(tune_error)?;
    // Axes and slices span the ranges trials were drawn from: the revised ones.
    def.space = current_space(&def.space, &revisions);
    Ok((def, revisions, trials))
}

/// A study that cannot be read: the details go to the server's log, not to the page.
fn tune_error(e: hone_tune::TuneError) -> ApiError {
    tracing::error!(error = %e, "reading a study for the dashboard failed");
    ApiError::internal()
}

/// Whether a study page should follow the study: a trial is running or waiting, or the study
/// has no trial yet, or one finished in the last half hour (a `hone tune` between trials).
fn is_live(trials: &[(Trial, String)]) -> bool {
    let now = hone_tune::study::now_ms();
    trials.is_empty()
        || trials.iter().any(|(t, _)| {
            matches!(t.state, TrialState::Running | TrialState::Waiting)
                || t.finished_ms.is_some_and(|f| now - f < 30 * 60 * 1000)
        })
}

/// `GET /studies/{experiment_id}`.
pub(super) async fn page(
    State(s): State<AppState>,
    caller: Caller,
    Path(experiment_id): Path<String>,
) -> Response {
    let user = caller.user.clone();
    let need = vec![Need::Experiment(experiment_id.clone(), Level::Read)];
    if let Err(e) = allowed(&s, &caller, need).await {
        return error_page(&user, e);
    }
    let id = experiment_id.clone();
    let store = s.store.clone();
    let loaded = blocking(&s, "web.study", move |_| load(&store, &id)).await;
    let (def, revisions, trials) = match loaded {
        Ok(l) => l,
        Err(e) => return error_page(&user, e),
    };
    let mut page = build(&user, &experiment_id, &def, &trials);
    page.revisions = revisions.iter().map(|r| r.to_string()).collect();
    render(StatusCode::OK, &page)
}

/// The position of a parameter's value on its axis in `[0, 1]` and its label, for the
/// parallel coordinates.
fn unit(def: &StudyDef, name: &str, internal: f64) -> f64 {
    def.space
        .get(name)
        .map(|p| match &p.distribution {
            Distribution::Categorical { choices } if choices.len() > 1 => {
                internal / (choices.len() - 1) as f64
            }
            d => d.to_unit(internal),
        })
        .unwrap_or(f64::NAN)
}

fn build<'a>(
    user: &'a str,
    experiment_id: &str,
    def: &StudyDef,
    trials: &[(Trial, String)],
) -> StudyPage<'a> {
    let n_obj = def.directions.len();
    let objectives: Vec<String> = (0..n_obj)
        .map(|i| format!("{} ({})", def.objective_name(i), def.directions[i].as_str()))
        .collect();
    let run_link = |run: &str| format!("/runs/{}", q(run));
    let complete: Vec<&(Trial, String)> = trials
        .iter()
        .filter(|(t, _)| {
            t.state == TrialState::Complete && t.values.as_ref().is_some_and(|v| v.len() == n_obj)
        })
        .collect();
    let mut counts = Vec::new();
    for state in [
        TrialState::Complete,
        TrialState::Pruned,
        TrialState::Fail,
        TrialState::Running,
        TrialState::Waiting,
    ] {
        let n = trials.iter().filter(|(t, _)| t.state == state).count();
        if n > 0 {
            counts.push((state.as_str(), n));
        }
    }

    // The best trial (one objective) or the Pareto front (several).
    let losses: Vec<Vec<f64>> = complete
        .iter()
        .map(|(t, _)| {
            t.values
                .as_ref()
                .map(|v| {
                    v.iter()
                        .zip(&def.directions)
                        .map(|(x, d)| d.loss(*x))
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    let front: Vec<usize> = if n_obj > 1 {
        pareto_front(&losses)
    } else {
        losses
            .iter()
            .enumerate()
            .filter(|(_, l)| l[0].is_finite())
            .min_by(|a, b| a.1[0].total_cmp(&b.1[0]))
            .map(|(i, _)| vec![i])
            .unwrap_or_default()
    };
    let best_numbers: Vec<u64> = front.iter().map(|&i| complete[i].0.number).collect();
    let values_text = |t: &Trial| {
        t.values
            .as_ref()
            .map(|v| v.iter().map(|x| number(*x)).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let best: Vec<String> = front
        .iter()
        .take(20)
        .map(|&i| {
            let t = &complete[i].0;
            format!("trial {}: {}", t.number, values_text(t))
        })
        .collect();

    // Optimisation history: every complete trial's value, and the running best.
    let mut history = Vec::new();
    for (i, dir) in def.directions.iter().enumerate() {
        let pts: Vec<(f64, f64)> = complete
            .iter()
            .map(|(t, _)| {
                (
                    t.number as f64,
                    t.values.as_ref().map_or(f64::NAN, |v| v[i]),
                )
            })
            .collect();
        let mut series = vec![Series {
            tips: complete
                .iter()
                .map(|(t, _)| format!("trial {}: {}", t.number, values_text(t)))
                .collect(),
            links: complete.iter().map(|(_, r)| run_link(r)).collect(),
            ..Series::new("s0", Mark::Dots, pts.clone())
        }];
        if n_obj == 1 {
            let mut best_so_far = f64::NAN;
            let running: Vec<(f64, f64)> = pts
                .iter()
                .filter(|(_, y)| y.is_finite())
                .map(|&(x, y)| {
                    if best_so_far.is_nan() || dir.loss(y) < dir.loss(best_so_far) {
                        best_so_far = y;
                    }
                    (x, best_so_far)
                })
                .collect();
            series.push(Series::new("best", Mark::Steps, running));
        }
        let mut plot = Plot::wide(series);
        plot.x_title = "trial".into();
        plot.y_title = def.objective_name(i);
        if let Some(svg) = plot.render() {
            history.push(Figure {
                caption: objectives[i].clone(),
                svg,
            });
        }
    }

    // Parameter importances of the first objective.
    let all_trials: Vec<Trial> = trials.iter().map(|(t, _)| t.clone()).collect();
    let importances = bars(
        &ped_anova(&def.space, &all_trials, def.directions[0]),
        "importance",
    )
    .map(|svg| Figure {
        caption: format!("PED-ANOVA, {}", def.objective_name(0)),
        svg,
    });

    // Parallel coordinates: every searched parameter, then the first objective; the best
    // tenth of the trials drawn on top in the accent colour.
    let params: Vec<&str> = def
        .space
        .params
        .iter()
        .filter(|p| !matches!(p.distribution, Distribution::Fixed { .. }))
        .map(|p| p.name.as_str())
        .collect();
    let obj0: Vec<f64> = complete
        .iter()
        .map(|(t, _)| t.values.as_ref().map_or(f64::NAN, |v| v[0]))
        .collect();
    let (lo, hi) = obj0
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    let mut ranked: Vec<f64> = obj0
        .iter()
        .map(|v| def.directions[0].loss(*v))
        .filter(|v| v.is_finite())
        .collect();
    ranked.sort_by(f64::total_cmp);
    let cut = ranked.get(ranked.len() / 10).copied().unwrap_or(f64::MIN);
    let mut lines: Vec<(Vec<f64>, String, bool)> = complete
        .iter()
        .zip(&obj0)
        .map(|((t, _), v)| {
            let mut u: Vec<f64> = params
                .iter()
                .map(|p| t.params.get(*p).map_or(f64::NAN, |x| unit(def, p, *x)))
                .collect();
            u.push(if hi > lo { (v - lo) / (hi - lo) } else { 0.5 });
            let top = def.directions[0].loss(*v) <= cut;
            (u, if top { "s0 top" } else { "s6 rest" }.to_string(), top)
        })
        .collect();
    lines.sort_by_key(|l| l.2);
    let mut axes: Vec<Axis> = params
        .iter()
        .filter_map(|p| def.space.get(p))
        .map(|p| {
            let (low, high) = match &p.distribution {
                Distribution::Categorical { choices } => (
                    choices.first().map(|c| c.to_string()).unwrap_or_default(),
                    choices.last().map(|c| c.to_string()).unwrap_or_default(),
                ),
                d => {
                    let (a, b) = d.bounds();
                    (number(a), number(b))
                }
            };
            Axis {
                name: p.name.trim_start_matches("model.params.").to_string(),
                low,
                high,
            }
        })
        .collect();
    axes.push(Axis {
        name: def.objective_name(0),
        low: number(lo),
        high: number(hi),
    });
    let parallel = parallel(
        &axes,
        &lines
            .into_iter()
            .map(|(u, c, _)| (u, c))
            .collect::<Vec<_>>(),
    );

    // Slice plots: the first objective against each parameter.
    let mut slices = Vec::new();
    for p in params.iter().filter_map(|p| def.space.get(p)) {
        let categorical = matches!(p.distribution, Distribution::Categorical { .. });
        let pts: Vec<(f64, f64)> = complete
            .iter()
            .filter_map(|(t, _)| {
                let x = *t.params.get(&p.name)?;
                let x = if categorical {
                    x
                } else {
                    p.distribution.external(x).as_f64()?
                };
                Some((x, t.values.as_ref()?[0]))
            })
            .collect();
        let mut plot = Plot::small(vec![Series {
            tips: complete
                .iter()
                .map(|(t, _)| format!("trial {}", t.number))
                .collect(),
            ..Series::new("s0", Mark::Dots, pts)
        }]);
        plot.log_x = p.distribution.is_log();
        plot.x_title = p.name.trim_start_matches("model.params.").to_string();
        if let Some(svg) = plot.render() {
            let caption = match &p.distribution {
                Distribution::Categorical { choices } => format!(
                    "{} (choices by index: {})",
                    plot.x_title,
                    choices
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => plot.x_title.clone(),
            };
            slices.push(Figure { caption, svg });
        }
    }

    // Intermediate values: one curve per trial (the latest ones), pruned trials in red with
    // a dot where they were stopped.
    let with_curves: Vec<&(Trial, String)> = trials
        .iter()
        .filter(|(t, _)| !t.intermediate.is_empty())
        .collect();
    let skip = with_curves.len().saturating_sub(MAX_CURVES);
    let mut series = Vec::new();
    let mut stops = Series::new("pruned", Mark::Dots, Vec::new());
    for (t, run) in with_curves.into_iter().skip(skip) {
        let pts: Vec<(f64, f64)> = t
            .intermediate
            .iter()
            .map(|(s, v)| (*s as f64, *v))
            .collect();
        let pruned = t.state == TrialState::Pruned;
        if pruned && let Some(&last) = pts.last() {
            stops.points.push(last);
            stops
                .tips
                .push(format!("trial {} pruned at step {}", t.number, last.0));
            stops.links.push(run_link(run));
        }
        let class = if pruned { "pruned" } else { "s0 faint" };
        if pts.len() >= 2 {
            series.push(Series::new(class, Mark::Line, pts));
        } else {
            series.push(Series {
                tips: vec![format!("trial {}", t.number)],
                ..Series::new(class, Mark::Dots, pts)
            });
        }
    }
    series.push(stops);
    let mut plot = Plot::wide(series);
    plot.x_title = "step".into();
    plot.y_title = "intermediate value".into();
    let intermediate = plot.render();

    // The Pareto front of the first two objectives.
    let (pareto, pareto_note) = if n_obj >= 2 {
        let on_front: std::collections::HashSet<usize> = front.iter().copied().collect();
        let point = |i: usize| {
            let v = complete[i].0.values.as_ref().map_or(&[][..], |v| &v[..]);
            (v[0], v[1])
        };
        let mut dominated = Series::new("dominated", Mark::Dots, Vec::new());
        let mut best = Series::new("front", Mark::Dots, Vec::new());
        for (i, (trial, run)) in complete.iter().enumerate() {
            let s = if on_front.contains(&i) {
                &mut best
            } else {
                &mut dominated
            };
            s.points.push(point(i));
            s.tips
                .push(format!("trial {}: {}", trial.number, values_text(trial)));
            s.links.push(run_link(run));
        }
        let mut line: Vec<(f64, f64)> = front.iter().map(|&i| point(i)).collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut plot = Plot::wide(vec![
            dominated,
            Series::new("front-line", Mark::Steps, line),
            best,
        ]);
        plot.class = "chart pareto";
        plot.x_title = objectives[0].clone();
        plot.y_title = objectives[1].clone();
        plot.height = 300.0;
        let note = if n_obj > 2 {
            format!(
                "{} objectives: the first two are drawn; the front is over all of them",
                n_obj
            )
        } else {
            String::new()
        };
        (
            plot.render().map(|svg| Figure {
                caption: format!("{} trials on the front of {}", front.len(), complete.len()),
                svg,
            }),
            note,
        )
    } else {
        (None, String::new())
    };

    // The trial table, latest first.
    let skip = trials.len().saturating_sub(MAX_ROWS);
    let param_names: Vec<String> = params
        .iter()
        .map(|p| p.trim_start_matches("model.params.").to_string())
        .collect();
    let rows: Vec<TrialRow> = trials
        .iter()
        .skip(skip)
        .rev()
        .map(|(t, run)| {
            let external: std::collections::HashMap<String, String> = def
                .space
                .external(&t.params)
                .into_iter()
                .map(|(k, v)| {
                    let text = match v {
                        ParamValue::Float(f) => number(f),
                        other => other.to_string(),
                    };
                    (k, text)
                })
                .collect();
            TrialRow {
                number: t.number,
                run_id: run.clone(),
                state: t.state.as_str(),
                state_class: state_class(t.state),
                values: values_text(t),
                params: params
                    .iter()
                    .map(|p| external.get(*p).cloned().unwrap_or_default())
                    .collect(),
                started: t.started_ms.map(iso).unwrap_or_default(),
                duration: t
                    .started_ms
                    .map(|s| duration(s, t.finished_ms))
                    .unwrap_or_default(),
                best: best_numbers.contains(&t.number),
            }
        })
        .collect();
    StudyPage {
        user,
        name: def.name.clone(),
        experiment_id: experiment_id.to_string(),
        sampler: def.sampler.name().to_string(),
        pruner: format!("{:?}", def.pruner)
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or("")
            .to_lowercase(),
        objectives,
        counts,
        best,
        history,
        importances,
        parallel,
        slices,
        intermediate,
        pareto,
        pareto_note,
        param_names,
        rows,
        hidden_rows: skip,
        live: is_live(trials).then(|| format!("/studies/{}/events", q(experiment_id))),
        revisions: Vec::new(),
    }
}

/// `GET /studies/{experiment_id}/events`: `changed` when a trial starts, reports, or ends.
pub(super) async fn events(
    State(s): State<AppState>,
    caller: Caller,
    Path(experiment_id): Path<String>,
) -> Response {
    let need = vec![Need::Experiment(experiment_id.clone(), Level::Read)];
    if let Err(e) = allowed(&s, &caller, need).await {
        return e.into_response();
    }
    super::watch(s, std::time::Duration::from_secs(1), move |st| {
        watch_state(st, &experiment_id)
    })
}

/// What a study page's stream compares, read with one search (no metric histories): each
/// trial run's state, end, and latest report and values; and whether the study is live (a
/// trial running or waiting, or one ended in the last half hour, or none yet).
fn watch_state(st: &dyn Backend, experiment_id: &str) -> Result<(String, bool), ApiError> {
    use hone_track::keys::{INTERMEDIATE, TRIAL_STATE};
    let request = hone_track::SearchRequest {
        experiment_ids: vec![experiment_id.to_string()],
        max_results: 50_000,
        ..Default::default()
    };
    let now = hone_tune::study::now_ms();
    let mut state = String::new();
    let mut live = false;
    let mut trials = 0;
    for run in hone_track::search_all(st, request) {
        let run = run?;
        let trial_state = run
            .tags
            .iter()
            .find(|(k, _)| k == TRIAL_STATE)
            .map_or("", |(_, v)| v.as_str());
        trials += 1;
        live |= matches!(trial_state, "RUNNING" | "WAITING")
            || run.info.end_time.is_some_and(|e| now - e < 30 * 60 * 1000);
        state.push_str(&format!(
            "{}:{trial_state}:{}:{:?}",
            run.info.run_id,
            run.info.status.as_str(),
            run.info.end_time
        ));
        for m in &run.metrics {
            if m.key == INTERMEDIATE || !m.key.starts_with("hone.") {
                state.push_str(&format!(":{}={}@{}", m.key, m.point.value, m.point.step));
            }
        }
        state.push(';');
    }
    Ok((state, live || trials == 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hone_tune::sampler::SamplerSpec;
    use hone_tune::space::SearchSpace;
    use hone_tune::trial::Direction;

    fn def(directions: Vec<Direction>) -> StudyDef {
        StudyDef {
            name: "s".into(),
            space: SearchSpace::from_toml_str(
                "[x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n[c]\ntype = \"categorical\"\nchoices = [\"a\", \"b\"]\n",
            )
            .unwrap(),
            directions,
            objectives: Vec::new(),
            sampler: SamplerSpec::parse("random").unwrap(),
            pruner: Default::default(),
            seed: 0,
            adapt: None,
        }
    }

    fn trial(n: u64, x: f64, values: Vec<f64>) -> (Trial, String) {
        let mut t = Trial::new(
            n,
            TrialState::Complete,
            [("x".to_string(), x), ("c".to_string(), (n % 2) as f64)].into(),
        );
        t.values = Some(values);
        (t, format!("run{n}"))
    }

    #[test]
    fn the_pareto_front_is_drawn_for_two_objectives() {
        let d = def(vec![Direction::Minimize, Direction::Minimize]);
        let trials = vec![
            trial(0, 0.1, vec![1.0, 3.0]),
            trial(1, 0.2, vec![2.0, 2.0]),
            trial(2, 0.3, vec![3.0, 3.0]),
            trial(3, 0.4, vec![3.0, 1.0]),
        ];
        let page = build("u", "1", &d, &trials);
        let pareto = page.pareto.unwrap();
        assert_eq!(pareto.svg.matches("dot front").count(), 3);
        assert_eq!(pareto.svg.matches("dot dominated").count(), 1);
        assert!(page.rows.iter().filter(|r| r.best).count() == 3);
        assert!(page.history.len() == 2);
    }

    #[test]
    fn one_objective_has_a_running_best_and_no_front() {
        let d = def(vec![Direction::Maximize]);
        let trials = vec![
            trial(0, 0.1, vec![0.5]),
            trial(1, 0.2, vec![0.7]),
            trial(2, 0.3, vec![0.6]),
        ];
        let page = build("u", "1", &d, &trials);
        assert!(page.pareto.is_none());
        assert!(page.history[0].svg.contains("curve best"));
        assert_eq!(page.best, ["trial 1: 0.7"]);
        assert_eq!(page.rows[0].number, 2, "latest first");
        assert!(page.parallel.is_some());
        assert_eq!(page.slices.len(), 2);
    }
}
