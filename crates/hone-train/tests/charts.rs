//! A real training run on the bundled S&P 500 data writes its three charts: valid SVG, small,
//! with date axes, the buy-and-hold benchmark and the drawdown panel, the same bytes every run.

use std::path::Path;

/// Well-formed XML with one `<svg>` root (quick-xml, already in the dependency tree).
fn assert_valid_svg(name: &str, svg: &str) {
    let mut reader = quick_xml::Reader::from_str(svg);
    let (mut depth, mut roots) = (0i64, 0);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                if depth == 0 {
                    roots += 1;
                    assert_eq!(e.name().as_ref(), b"svg", "{name}");
                }
                for a in e.attributes() {
                    a.unwrap_or_else(|err| panic!("{name}: {err}"));
                }
                depth += 1;
            }
            Ok(quick_xml::events::Event::Empty(e)) => {
                for a in e.attributes() {
                    a.unwrap_or_else(|err| panic!("{name}: {err}"));
                }
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Text(t)) => {
                t.decode().unwrap_or_else(|err| panic!("{name}: {err}"));
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("{name}: invalid at {}: {e}", reader.buffer_position()),
        }
    }
    assert_eq!((depth, roots), (0, 1), "{name}");
}

fn data() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/sp500_daily_1999_2018.csv")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

fn text(files: &hone_train::output::Bundle, name: &str) -> String {
    String::from_utf8(
        files
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_vec(),
    )
    .unwrap()
}

#[test]
fn a_lightgbm_backtest_writes_three_readable_charts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("charts.toml");
    std::fs::write(
        &config,
        format!(
            r#"
name = "charts"
seed = 7
[data]
path = "{}"
time_column = "date"
[data.derive]
returns = [1, 5, 20]
rolling = [20]
rsi = [14]
[target]
kind = "direction"
column = "close"
[split]
scheme = "timeseries"
n_splits = 4
holdout = 0.2
[model]
type = "lightgbm"
early_stopping_rounds = 20
[model.params]
num_iterations = 200
learning_rate = 0.05
num_leaves = 7
[trading]
cost_bps = 1
"#,
            data()
        ),
    )
    .unwrap();
    let cfg = hone_train::config::load(&config).unwrap();
    let out = dir.path().join("out");
    let run = hone_train::job::run_job(&cfg, Some(&out), &[], &mut |_| {}).unwrap();
    for name in ["equity.svg", "importance.svg", "learning_curve.svg"] {
        let svg = text(&run.files, name);
        assert_valid_svg(name, &svg);
        assert!(svg.len() < 300_000, "{name}: {} bytes", svg.len());
    }

    let equity = text(&run.files, "equity.svg");
    // Date ticks: years (the backtests span about 2002..2018), and the axis titles.
    let years: Vec<&str> = equity
        .split("</text>")
        .filter_map(|t| t.rsplit('>').next())
        .filter(|t| t.len() == 4 && t.starts_with("20") && t.parse::<u32>().is_ok())
        .collect();
    assert!(years.len() >= 4 && years.contains(&"2010"), "{years:?}");
    assert!(equity.contains(">date</text>"));
    assert!(equity.contains(">equity (growth of 1)</text>"));
    // The benchmark next to the strategy, in the legend and as lines (orange), and the
    // drawdown panel with percent ticks.
    assert!(equity.contains(">buy &amp; hold (the traded asset)</text>"));
    assert!(equity.contains(">strategy</text>"));
    assert!(equity.contains(">drawdown</text>") && equity.contains("%</text>"));
    let lines = |colour: &str| {
        equity
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(colour))
            .count()
    };
    // Out-of-fold and holdout: equity and drawdown each.
    assert_eq!((lines("#1f77b4"), lines("#ff7f0e")), (4, 4));
    assert!(equity.contains(">holdout</text>"));

    // Importances: every feature, labelled, with what the values are.
    let importance = text(&run.files, "importance.svg");
    assert!(importance.contains("(total split gain)"));
    for (name, _) in &run.report.importances {
        assert!(importance.contains(&format!(">{name}</text>")), "{name}");
    }
    assert_eq!(run.report.importance_kind, "total split gain");

    // Learning curves: each fold's kept round and the refit's rounds.
    let curves = text(&run.files, "learning_curve.svg");
    for f in &run.report.folds {
        assert!(!f.valid_curve.is_empty());
        assert!(curves.contains(&format!("fold {} (kept {})", f.fold, f.best_iteration)));
        let sample = f.learning_curve.as_ref().unwrap();
        assert!(sample.rounds.len() <= hone_train::report::CURVE_SAMPLE_POINTS);
        assert!(sample.rounds.contains(&f.best_iteration));
    }
    let rounds = run.report.refit.as_ref().unwrap().rounds.unwrap();
    assert!(curves.contains(&format!(">refit: {rounds}</text>")));
    assert!(curves.contains(">boosting round</text>"));
    let json = text(&run.files, "metrics.json");
    assert!(json.contains("\"learning_curve\"") && json.contains("\"importance_kind\""));

    // Deterministic: the same run draws the same bytes.
    let again = hone_train::job::run_job(&cfg, Some(&out), &[], &mut |_| {}).unwrap();
    for name in ["equity.svg", "importance.svg", "learning_curve.svg"] {
        assert_eq!(run.files.get(name), again.files.get(name), "{name}");
    }
}

/// A linear model: importances are |coefficients|; no rounds, so no learning curve.
#[test]
fn a_linear_model_has_no_learning_curve() {
    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sp500_purged_trading.toml");
    let cfg = hone_train::config::load(&config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = hone_train::job::run_job(&cfg, Some(dir.path()), &[], &mut |_| {}).unwrap();
    assert!(text(&run.files, "importance.svg").contains("(|coefficient|)"));
    assert!(run.files.get("learning_curve.svg").is_none());
    let equity = text(&run.files, "equity.svg");
    assert_valid_svg("equity.svg", &equity);
    assert!(equity.contains(">buy &amp; hold (the traded asset)</text>"));
}
