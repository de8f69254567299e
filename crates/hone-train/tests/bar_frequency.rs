//! Annualisation follows the data: weekly bars get 52 periods per year without configuration,
//! and a configured factor that disagrees with the timestamps is a warning.

use std::fmt::Write as _;
use std::path::Path;

/// Every fifth row of the bundled daily S&P 500 file: weekly bars.
fn weekly_csv(dir: &Path) -> std::path::PathBuf {
    let daily =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/sp500_daily_1999_2018.csv");
    let text = std::fs::read_to_string(daily).unwrap();
    let mut lines = text.lines();
    let mut out = String::new();
    let _ = writeln!(out, "{}", lines.next().unwrap());
    for (i, l) in lines.enumerate() {
        if i % 5 == 0 {
            let _ = writeln!(out, "{l}");
        }
    }
    let path = dir.join("weekly.csv");
    std::fs::write(&path, out).unwrap();
    path
}

fn config(dir: &Path, periods: &str) -> hone_train::LoadedConfig {
    let text = format!(
        r#"
seed = 3
[data]
path = "{}"
time_column = "date"
[data.derive]
returns = [1, 4]
rolling = [8]
[target]
kind = "direction"
[split]
scheme = "timeseries"
n_splits = 4
holdout = 0.2
[model]
type = "logistic"
[trading]
cost_bps = 2
{periods}
"#,
        weekly_csv(dir).display()
    );
    hone_train::config::parse(&text, &dir.join("weekly.toml")).unwrap()
}

#[test]
fn weekly_bars_are_annualised_with_52_periods() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = hone_train::run_train(&config(dir.path(), ""), out.path(), &mut |_| {}).unwrap();
    let t = report.trading.as_ref().unwrap();
    assert_eq!(t.periods_per_year, 52.0);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("bars look weekly") && n.contains("52 periods per year")),
        "{:?}",
        report.notes
    );
    // Turnover per year follows the same factor: trades per bar × 52.
    let cv = &t.cv;
    assert!(cv.turnover <= 2.0 * 52.0 + 1e-9, "{}", cv.turnover);

    // A configured 252 on weekly bars is used, with a warning.
    let out = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "periods_per_year = 252");
    let report = hone_train::run_train(&cfg, out.path(), &mut |_| {}).unwrap();
    assert_eq!(report.trading.as_ref().unwrap().periods_per_year, 252.0);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("warning: trading.periods_per_year = 252")
                && n.contains("look weekly (52 periods per year)")),
        "{:?}",
        report.notes
    );
}
