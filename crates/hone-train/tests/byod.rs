//! "Bring your own data": a CSV as a researcher exports it (US dates, blank cells, a forward
//! label they computed, features written as expressions) trains end to end; bad settings are
//! refused in one line naming the key, file, line and column; and custom features cannot
//! leak the future.

use std::fmt::Write as _;
use std::path::Path;

use hone_train::{TrainReport, config, run_train};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A random-walk price with volume over `n` weekdays from 2020-01-06, dates written `M/D/YYYY`.
/// Columns: Date, Close, Volume, fwd_ret (Close[t+1] / Close[t] - 1, blank on the last row),
/// future (the same forward return, as a would-be feature: the leak bait). `blank(i)` blanks
/// Close and Volume on row i (the forward label is computed from the true prices first).
fn write_prices(path: &Path, n: usize, seed: u64, blank: impl Fn(usize) -> bool) {
    let mut rng = Lcg(seed);
    let mut close = Vec::with_capacity(n);
    let mut p = 100.0;
    for _ in 0..n {
        p *= 1.0 + (rng.next() - 0.5) * 0.04;
        close.push(p);
    }
    let mut s = String::from("Date,Close,Volume,fwd_ret,future\n");
    let mut day = 0i64; // days since 2020-01-06, a Monday
    for i in 0..n {
        while (day % 7) >= 5 {
            day += 1;
        }
        let (y, m, d) = civil(18267 + day); // 2020-01-06 is day 18267 since 1970
        day += 1;
        let fwd = if i + 1 < n {
            format!("{}", close[i + 1] / close[i] - 1.0)
        } else {
            String::new()
        };
        let volume = 1e6 * (1.0 + rng.next());
        let (c, v) = if blank(i) {
            (String::new(), String::new())
        } else {
            (close[i].to_string(), volume.to_string())
        };
        let _ = writeln!(s, "{m}/{d}/{y},{c},{v},{fwd},{fwd}");
    }
    std::fs::write(path, s).unwrap();
}

/// Civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const BYOD: &str = r#"
seed = 1
[data]
path = "prices.csv"
time_column = "Date"
time_format = "%m/%d/%Y"
fill = "ffill"
exclude = ["future"]
[data.derive.custom]
mom_5 = "Close / lag(Close, 5) - 1"
vol_z = "(Volume - rolling_mean(Volume, 10)) / rolling_std(Volume, 10)"
trend = "ewm_mean(mom_5, 10)"
[target]
kind = "column"
column = "fwd_ret"
task = "regression"
horizon = 1
[split]
scheme = "timeseries"
n_splits = 3
holdout = 0.2
[model]
type = "ridge"
alpha = 1.0
"#;

fn train(dir: &Path, text: &str) -> Result<TrainReport, String> {
    let cfg_path = dir.join("job.toml");
    std::fs::write(&cfg_path, text).unwrap();
    let cfg = config::load(&cfg_path).map_err(|e| e.to_string())?;
    run_train(&cfg, &dir.join("out"), &mut |_| {}).map_err(|e| e.to_string())
}

#[test]
fn a_yahoo_style_file_with_blanks_and_a_forward_label_trains() {
    let dir = tempfile::tempdir().unwrap();
    let blanks = [17, 40, 41, 150];
    write_prices(&dir.path().join("prices.csv"), 300, 5, |i| {
        blanks.contains(&i)
    });
    let report = train(dir.path(), BYOD).unwrap();
    // Warm-up: vol_z's 10-row window (9 rows) and mom_5's lag (5): 9. The last row has no
    // label (fwd_ret blank) and is dropped, as derived targets drop theirs.
    assert_eq!(report.rows, 300 - 9 - 1);
    assert_eq!(report.features, vec!["mom_5", "trend", "vol_z"]);
    let notes = report.notes.join("\n");
    for want in [
        "dropped the first 9 row(s): warm-up of the derived features' windows",
        "filled missing cells from earlier rows (data.fill): Close 4 (ffill), Volume 4 (ffill)",
        "dropped the last 1 row(s): target `fwd_ret` is blank there",
    ] {
        assert!(notes.contains(want), "{want}\n{notes}");
    }
    for (name, s) in &report.cv {
        assert!(s.mean.is_finite(), "{name}");
    }
    // Outputs show the dates in ISO form: 2020-01-06 + 9 weekdays of warm-up = 2020-01-17.
    let oof = std::fs::read_to_string(dir.path().join("out/oof_predictions.csv")).unwrap();
    let preds =
        std::fs::read_to_string(dir.path().join("out/holdout_predictions.csv")).unwrap_or_default();
    assert!(oof.lines().nth(1).unwrap().starts_with("20"), "{oof}");
    assert!(!oof.contains('/') && !preds.contains('/'));
    assert_eq!(report.development.first_time, "2020-01-17");
}

fn refused(text: &str, blank: &[usize]) -> String {
    let dir = tempfile::tempdir().unwrap();
    write_prices(&dir.path().join("prices.csv"), 60, 5, |i| {
        blank.contains(&i)
    });
    let e = train(dir.path(), text).unwrap_err();
    assert!(!e.contains('\n'), "one line: {e}");
    // Nothing is written for a refused job.
    assert!(!dir.path().join("out/metrics.json").exists());
    e
}

#[test]
fn bad_settings_and_cells_are_refused_in_one_line() {
    // A date in another format: file, line, column, the cell and the format expected.
    let e = refused(&BYOD.replace("%m/%d/%Y", "%Y-%m-%d"), &[]);
    assert!(
        e.ends_with(
            "prices.csv: line 2: column `Date`: cannot parse timestamp \"1/6/2020\" (input \
             contains invalid characters; expected time_format \"%Y-%m-%d\")"
        ),
        "{e}"
    );
    // Backward fill reads the future.
    let e = refused(&BYOD.replace("fill = \"ffill\"", "fill = \"bfill\""), &[]);
    assert!(
        e.contains("job.toml (line 7): data.fill = \"bfill\": that fills a blank from a later row, which looks ahead"),
        "{e}"
    );
    // A negative lag reads the future: refused when the config is read, by key and position.
    let e = refused(&BYOD.replace("lag(Close, 5)", "lag(Close, -1)"), &[]);
    assert!(
        e.contains("data.derive.custom.mom_5 = \"Close / lag(Close, -1) - 1\": at character 20: lag(x, -1) would read x[t + 1]")
            && e.contains("looks into the future"),
        "{e}"
    );
    // An unknown column gets the nearest name.
    let e = refused(
        &BYOD.replace("rolling_mean(Volume", "rolling_mean(Volum"),
        &[],
    );
    assert!(
        e.starts_with(
            "data.derive.custom.vol_z: no column, built-in or custom feature `Volum` in "
        ) && e.contains("did you mean `Volume`?"),
        "{e}"
    );
    // A misspelt key gets the nearest key.
    let e = refused(&BYOD.replace("time_format", "time_fromat"), &[]);
    assert!(e.contains("did you mean `time_format`?"), "{e}");
    // Without a fill, a blank price is an error naming it and suggesting ffill.
    let no_fill = BYOD.replace("fill = \"ffill\"\n", "");
    let e = refused(&no_fill, &[30]);
    assert!(
        e.contains(
            "prices.csv: line 32: feature `mom_5` is NaN (missing: it reads `Close`, blank at \
             line 32): set data.fill = \"ffill\""
        ),
        "{e}"
    );
    // A blank inside a window shows at a later row of the feature: the error names the cell.
    // (Row 5 is in the warm-up, which is dropped; its windows reach kept rows.)
    let e = refused(&no_fill, &[5]);
    assert!(e.contains("blank at line 7)"), "{e}");
    assert!(
        !e.contains("prices.csv: line 7:"),
        "the feature's own row is later: {e}"
    );
    // A blank label inside the file (not a trailing forward label) is an error.
    let e = refused(
        &BYOD.replace("column = \"fwd_ret\"", "column = \"Close\""),
        &[30],
    );
    assert!(
        e.contains("prices.csv: line 32: target `Close` is NaN (targets must be finite; only blank labels at the end of the file are dropped)"),
        "{e}"
    );
}

/// Leakage: the label is the next bar's direction of a random walk, which no causal feature
/// can predict. A feature that read even one row ahead (`future`, the next return itself, or
/// anything a look-ahead function would compute) predicts it perfectly.
#[test]
fn custom_features_cannot_see_the_future() {
    let features = r#"
[data.derive.custom]
r1 = "pct_change(Close, 1)"
r1_lag0 = "lag(r1, 0)"
d1 = "diff(log(Close), 1)"
ma = "Close / rolling_mean(Close, 3) - 1"
sd = "rolling_std(r1, 3)"
lo = "Close / rolling_min(Close, 3) - 1"
hi = "Close / rolling_max(Close, 3) - 1"
md = "Close / rolling_median(Close, 3) - 1"
sm = "rolling_sum(r1, 2)"
ew = "Close / ewm_mean(Close, 3) - 1"
z = "zscore(Close, 3)"
mix = "sqrt(abs(r1)) * exp(-abs(d1))"
"#;
    let job = |extra: &str| {
        format!(
            r#"
seed = 1
[data]
path = "prices.csv"
time_column = "Date"
time_format = "%m/%d/%Y"
{extra}
[target]
kind = "direction"
column = "Close"
[split]
scheme = "timeseries"
n_splits = 4
holdout = 0.2
[model]
type = "logistic"
"#
        )
    };
    let dir = tempfile::tempdir().unwrap();
    write_prices(&dir.path().join("prices.csv"), 800, 11, |_| false);
    let causal = train(
        dir.path(),
        &job(&format!(
            "exclude = [\"future\", \"fwd_ret\", \"Volume\"]\n{features}"
        )),
    )
    .unwrap();
    let auc = causal.cv["roc_auc"].mean;
    assert!(
        (0.4..0.6).contains(&auc),
        "causal features predicted a random walk: {auc}"
    );
    // The bait is real: the same job given the next return as a feature predicts perfectly.
    let leaky = train(dir.path(), &job("features = [\"future\"]")).unwrap();
    assert!(
        leaky.cv["roc_auc"].mean > 0.99,
        "{}",
        leaky.cv["roc_auc"].mean
    );
}
