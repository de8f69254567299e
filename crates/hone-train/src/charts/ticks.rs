//! Axis ticks: round values on linear and log axes, and calendar dates on time axes.

use hone_data::time::{civil_from_days, days_from_civil};

/// A tick on an axis: where it goes (in data units) and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Position in data units (seconds since 1970 on a time axis).
    pub value: f64,
    /// Its label.
    pub label: String,
}

/// The most ticks an axis gets, whatever it is asked for (a bound on the loops below).
const MAX_TICKS: usize = 60;

/// `v` with `decimals` decimals, never `-0`.
pub fn fixed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// About `target` round ticks (1, 2 or 5 × 10^k apart) inside `[lo, hi]`, labelled with as many
/// decimals as the step needs. Empty when the range is not finite or `target` is 0; one tick
/// when `lo == hi`.
pub fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<Tick> {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !(lo.is_finite() && hi.is_finite()) || target == 0 {
        return Vec::new();
    }
    let span = hi - lo;
    if span <= 0.0 || !span.is_finite() {
        return vec![Tick {
            value: lo,
            label: short(lo),
        }];
    }
    let raw = span / target as f64;
    let exp = raw.log10().floor();
    let base = 10f64.powf(exp);
    // The round step whose tick count is nearest `target` (by ratio).
    let off = |m: f64| (span / (m * base) / target as f64).ln().abs();
    let step_mult = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .min_by(|a, b| off(*a).total_cmp(&off(*b)))
        .unwrap_or(1.0);
    let step = step_mult * base;
    // Decimals of the step: 0.2 → 1, 0.05 → 2, 50 → 0.
    let decimals = (-(step.log10().floor())).max(0.0) as usize;
    let first = (lo / step - 1e-9).ceil();
    let mut out = Vec::new();
    for k in 0..MAX_TICKS {
        let v = (first + k as f64) * step;
        // A tick that rounding put a hair past the end still belongs to the range.
        if v > hi + step * 1e-9 {
            break;
        }
        out.push(Tick {
            value: v,
            label: fixed(v, decimals),
        });
    }
    out
}

/// Ticks of a log axis over `[lo, hi]` (both > 0): powers of ten, with 2 and 5 between them over
/// less than four decades and every integer multiple over less than one; linear ticks when
/// that still gives fewer than three. Empty when the range is not positive and finite.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<Tick> {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !(lo > 0.0 && hi.is_finite()) {
        return Vec::new();
    }
    let decades = (hi / lo).log10();
    let mults: &[f64] = if decades >= 4.0 {
        &[1.0]
    } else if decades >= 1.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    };
    // Over many decades, every k-th power of ten.
    let every = ((decades / 6.0).ceil() as i64).max(1);
    let (e0, e1) = (lo.log10().floor() as i64, hi.log10().ceil() as i64);
    let mut out = Vec::new();
    let mut e = e0;
    while e <= e1 && out.len() < MAX_TICKS {
        if e.rem_euclid(every) == 0 {
            for &m in mults {
                let v = m * 10f64.powi(e as i32);
                if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                    out.push(Tick {
                        value: v,
                        label: fixed(v, (-e).max(0) as usize),
                    });
                }
            }
        }
        e += 1;
    }
    if out.len() < 3 {
        linear_ticks(lo, hi, 5)
    } else {
        out
    }
}

/// A short label for any value: up to 4 significant digits, scientific outside 1e-3..1e6.
pub fn short(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = if a == 0.0 {
        0
    } else {
        (3 - a.log10().floor() as i64).clamp(0, 6) as usize
    };
    let s = fixed(v, decimals);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Calendar steps a time axis may take, smallest first.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A fixed number of seconds (seconds, minutes, hours, days, weeks).
    Seconds(i64),
    /// A number of calendar months, on the 1st.
    Months(i64),
    /// A number of years, on 1 January.
    Years(i64),
}

const DAY: i64 = 86_400;

/// Candidate steps with their approximate length in seconds.
const STEPS: [(Step, f64); 28] = [
    (Step::Seconds(1), 1.0),
    (Step::Seconds(5), 5.0),
    (Step::Seconds(15), 15.0),
    (Step::Seconds(30), 30.0),
    (Step::Seconds(60), 60.0),
    (Step::Seconds(300), 300.0),
    (Step::Seconds(900), 900.0),
    (Step::Seconds(1800), 1800.0),
    (Step::Seconds(3600), 3600.0),
    (Step::Seconds(3 * 3600), 10_800.0),
    (Step::Seconds(6 * 3600), 21_600.0),
    (Step::Seconds(12 * 3600), 43_200.0),
    (Step::Seconds(DAY), 86_400.0),
    (Step::Seconds(2 * DAY), 172_800.0),
    (Step::Seconds(7 * DAY), 604_800.0),
    (Step::Seconds(14 * DAY), 1_209_600.0),
    (Step::Months(1), 2_629_746.0),
    (Step::Months(2), 5_259_492.0),
    (Step::Months(3), 7_889_238.0),
    (Step::Months(6), 15_778_476.0),
    (Step::Years(1), 31_556_952.0),
    (Step::Years(2), 63_113_904.0),
    (Step::Years(5), 157_784_760.0),
    (Step::Years(10), 315_569_520.0),
    (Step::Years(20), 631_139_040.0),
    (Step::Years(50), 1_577_847_600.0),
    (Step::Years(100), 3_155_695_200.0),
    (Step::Years(1000), 31_556_952_000.0),
];

/// Seconds since 1970 that a time axis accepts: years 1 to 9999, where calendar arithmetic
/// cannot overflow.
pub const TIME_RANGE: std::ops::RangeInclusive<f64> = -62_135_596_800.0..=253_402_300_799.0;

/// Ticks on calendar boundaries between `lo` and `hi` (seconds since 1970): years, months
/// (the 1st), weeks (Mondays), days or times of day, with the smallest step that gives at most
/// `target` ticks. Labels say as much as the step needs: `2005`, `2005-03`, `2005-03-14`, `03-14 09:30`, `09:30:15`.
pub fn time_ticks(lo: f64, hi: f64, target: usize) -> Vec<Tick> {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !(TIME_RANGE.contains(&lo) && TIME_RANGE.contains(&hi)) || target == 0 {
        return Vec::new();
    }
    let span = (hi - lo).max(1.0);
    let (step, _) = STEPS
        .iter()
        .copied()
        .find(|(_, len)| span / len <= target as f64)
        .unwrap_or(STEPS[STEPS.len() - 1]);
    let mut out = Vec::new();
    match step {
        Step::Seconds(s) => {
            // Weeks start on Mondays: 1970-01-05 was one.
            let origin = if s % (7 * DAY) == 0 { 4 * DAY } else { 0 };
            let mut t = ((lo as i64 - origin) as f64 / s as f64).ceil() as i64 * s + origin;
            while (t as f64) <= hi && out.len() < MAX_TICKS {
                out.push(Tick {
                    value: t as f64,
                    label: time_label(t, s),
                });
                t += s;
            }
        }
        Step::Months(_) | Step::Years(_) => {
            let months = match step {
                Step::Months(m) => m,
                Step::Years(y) => 12 * y,
                Step::Seconds(_) => 1,
            };
            let (y, m, _) = civil_from_days((lo as i64).div_euclid(DAY));
            // Month index from year 0, rounded up to the step (the first boundary ≥ lo).
            let mut k = (y * 12 + i64::from(m) - 1).div_euclid(months) * months;
            while out.len() < MAX_TICKS {
                let (ty, tm) = (k.div_euclid(12), (k.rem_euclid(12) + 1) as u32);
                let t = (days_from_civil(ty, tm, 1) * DAY) as f64;
                if t > hi {
                    break;
                }
                if t >= lo {
                    let label = if months % 12 == 0 {
                        format!("{ty}")
                    } else {
                        format!("{ty}-{tm:02}")
                    };
                    out.push(Tick { value: t, label });
                }
                k += months;
            }
        }
    }
    out
}

/// A timestamp's label for a step of `step` seconds.
fn time_label(t: i64, step: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    let (hh, mm, ss) = (s / 3600, s % 3600 / 60, s % 60);
    if step % DAY == 0 {
        format!("{y}-{m:02}-{d:02}")
    } else if step % 60 == 0 {
        format!("{m:02}-{d:02} {hh:02}:{mm:02}")
    } else {
        format!("{hh:02}:{mm:02}:{ss:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hone_data::time::parse_timestamp;

    fn labels(t: &[Tick]) -> Vec<&str> {
        t.iter().map(|t| t.label.as_str()).collect()
    }

    fn at(s: &str) -> f64 {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn linear_ticks_are_round() {
        assert_eq!(
            labels(&linear_ticks(0.93, 2.41, 6)),
            ["1.0", "1.2", "1.4", "1.6", "1.8", "2.0", "2.2", "2.4"]
        );
        assert_eq!(
            labels(&linear_ticks(-0.47, 0.0, 5)),
            ["-0.4", "-0.3", "-0.2", "-0.1", "0.0"]
        );
        assert_eq!(
            labels(&linear_ticks(0.0, 950.0, 5)),
            ["0", "200", "400", "600", "800"]
        );
        // Degenerate ranges: one tick, or none.
        assert_eq!(linear_ticks(3.0, 3.0, 5).len(), 1);
        assert!(linear_ticks(f64::NAN, 1.0, 5).is_empty());
        assert!(linear_ticks(0.0, f64::INFINITY, 5).is_empty());
        assert!(linear_ticks(0.0, 1.0, 0).is_empty());
        // Reversed bounds are the same range.
        assert_eq!(linear_ticks(2.0, 1.0, 4), linear_ticks(1.0, 2.0, 4));
    }

    #[test]
    fn log_ticks_by_decades() {
        assert_eq!(
            labels(&log_ticks(0.8, 60.0)),
            ["1", "2", "5", "10", "20", "50"]
        );
        assert_eq!(
            labels(&log_ticks(0.01, 1e6)),
            ["0.01", "1", "100", "10000", "1000000"]
        );
        // Less than a decade: every multiple; a narrower range falls back to linear ticks.
        assert_eq!(labels(&log_ticks(1.5, 4.5)), ["2", "3", "4"]);
        assert_eq!(labels(&log_ticks(1.01, 1.05)).len(), 5);
        assert!(log_ticks(0.0, 1.0).is_empty());
        assert!(log_ticks(-1.0, 1.0).is_empty());
    }

    #[test]
    fn time_ticks_follow_the_span() {
        // Twenty years: every 2 or 5 years, on 1 January.
        let t = time_ticks(at("1999-03-01"), at("2018-12-31"), 8);
        assert_eq!(labels(&t), ["2000", "2005", "2010", "2015"]);
        assert_eq!(t[0].value, at("2000-01-01"));
        // A year and a half: quarters.
        let t = time_ticks(at("2017-06-10"), at("2018-12-20"), 8);
        assert_eq!(
            labels(&t),
            [
                "2017-07", "2017-10", "2018-01", "2018-04", "2018-07", "2018-10"
            ]
        );
        // Six weeks: Mondays.
        let t = time_ticks(at("2024-01-03"), at("2024-02-14"), 8);
        assert_eq!(labels(&t)[0], "2024-01-08");
        assert_eq!(t.len(), 6);
        // A trading day of minute bars: hours.
        let t = time_ticks(at("2024-03-01 09:30"), at("2024-03-01 16:00"), 8);
        assert_eq!(labels(&t)[0], "03-01 10:00");
        // Seconds.
        let t = time_ticks(at("2024-03-01 09:30:00"), at("2024-03-01 09:30:20"), 8);
        assert_eq!(
            labels(&t),
            ["09:30:00", "09:30:05", "09:30:10", "09:30:15", "09:30:20"]
        );
        // One instant, out-of-range and reversed spans never fail.
        assert_eq!(time_ticks(at("2020-01-01"), at("2020-01-01"), 8).len(), 1);
        assert!(time_ticks(0.0, 1e300, 8).is_empty());
        assert_eq!(time_ticks(at("2018-12-31"), at("1999-03-01"), 8).len(), 4);
        // Before 1970 and across millennia.
        assert_eq!(
            labels(&time_ticks(at("1950-01-01"), at("1960-06-01"), 8))[0],
            "1950"
        );
        assert!(time_ticks(at("0001-01-01"), at("9999-12-31"), 8).len() <= MAX_TICKS);
    }

    #[test]
    fn short_labels() {
        assert_eq!(short(1234.5678), "1235");
        assert_eq!(short(0.012346), "0.01235");
        assert_eq!(short(2.0), "2");
        assert_eq!(short(-0.0), "0");
        assert_eq!(short(1.5e7), "1.50e7");
        assert_eq!(short(f64::NAN), "-");
        assert_eq!(fixed(-0.0001, 2), "0.00");
    }
}
