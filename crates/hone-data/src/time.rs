//! Timestamp parsing for the time column: ISO-8601 dates and date-times, or plain numbers.
//!
//! Timestamps are only ordered, never converted between zones: a naive time and one with `Z`
//! are read the same way. Parsed values are seconds since 1970-01-01 (or the number itself).

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; Howard Hinnant's method).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The civil date `(year, month, day)` of a day count from 1970-01-01: the inverse of
/// [`days_from_civil`] (Howard Hinnant's method), for labelling time axes.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z]`, or a number, into a sortable key.
pub fn parse_timestamp(text: &str) -> Option<f64> {
    let s = text.trim();
    if let Ok(v) = s.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, clock) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 {
        return None;
    }
    let (y, m, d) = (digits(y)? as i64, digits(m)?, digits(d)?);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > days_in_month {
        return None;
    }
    let mut seconds = days_from_civil(y, m, d) as f64 * 86_400.0;
    if let Some(clock) = clock {
        let mut hms = clock.split(':');
        let h = digits(hms.next()?)?;
        let mi = digits(hms.next()?)?;
        let sec: f64 = match hms.next() {
            Some(sec) => {
                let v: f64 = sec.parse().ok()?;
                if !(0.0..61.0).contains(&v) || !sec.as_bytes()[0].is_ascii_digit() {
                    return None;
                }
                v
            }
            None => 0.0,
        };
        if hms.next().is_some() || h > 23 || mi > 59 {
            return None;
        }
        seconds += h as f64 * 3600.0 + mi as f64 * 60.0 + sec;
    }
    Some(seconds)
}

/// How often bars come, inferred from the timestamps: the annualisation factor and what it was
/// read as.
#[derive(Debug, Clone, PartialEq)]
pub struct BarFrequency {
    /// Bars per year.
    pub periods_per_year: f64,
    /// What the spacing was read as (`weekly`, `daily (trading days)`, ...).
    pub label: String,
}

const DAY: f64 = 86_400.0;

/// Seconds since 1970 for a timestamp: ISO dates and date-times, or epoch seconds /
/// milliseconds given as numbers (small numbers are row indices, not times: `None`).
pub fn epoch_seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    let v = parse_timestamp(t)?;
    if t.parse::<f64>().is_err() {
        return Some(v);
    }
    // A plain number: epoch milliseconds or seconds from the year 2001 on, else not a time.
    if v >= 978_307_200_000.0 {
        Some(v / 1000.0)
    } else if v >= 978_307_200.0 {
        Some(v)
    } else {
        None
    }
}

/// Infers the bar frequency from timestamps (any order; repeated timestamps, as in a panel,
/// count once): the median spacing between distinct times, with trading calendars for daily
/// and longer bars (252 trading days unless weekends are present, then 365) and, for intraday
/// bars, the median number of bars per calendar day times 252 (exchange hours), 260 (around the
/// clock on weekdays, 24×5) or 365 days (24×7, weekends present). `None` when the times are not
/// dates or epoch times, or there are fewer than three.
pub fn bar_frequency(times: &[String]) -> Option<BarFrequency> {
    let mut secs: Vec<f64> = times
        .iter()
        .map(|t| epoch_seconds(t))
        .collect::<Option<Vec<f64>>>()?;
    secs.sort_by(f64::total_cmp);
    secs.dedup();
    if secs.len() < 3 {
        return None;
    }
    let mut gaps: Vec<f64> = secs.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_by(f64::total_cmp);
    let g = gaps[gaps.len() / 2];
    let weekday = |s: f64| ((s / DAY).floor() as i64 + 3).rem_euclid(7); // Monday = 0
    let weekend_share =
        secs.iter().filter(|&&s| weekday(s) >= 5).count() as f64 / secs.len() as f64;
    let weekends = weekend_share > 0.05;
    let found = |periods_per_year: f64, label: &str| {
        Some(BarFrequency {
            periods_per_year,
            label: label.to_string(),
        })
    };
    if g >= 300.0 * DAY {
        found(1.0, "yearly")
    } else if g >= 80.0 * DAY {
        found(4.0, "quarterly")
    } else if g >= 25.0 * DAY {
        found(12.0, "monthly")
    } else if g >= 5.0 * DAY {
        found(52.0, "weekly")
    } else if g >= 0.5 * DAY {
        if weekends {
            found(365.0, "daily, 7 days a week")
        } else {
            found(252.0, "daily (trading days)")
        }
    } else {
        // Bars per calendar day: the median count over the days that have bars.
        let mut per_day: Vec<usize> = Vec::new();
        let mut current = (secs[0] / DAY).floor();
        let mut count = 0;
        for &s in &secs {
            let d = (s / DAY).floor();
            if d != current {
                per_day.push(count);
                current = d;
                count = 0;
            }
            count += 1;
        }
        per_day.push(count);
        per_day.sort_unstable();
        let bars = per_day[per_day.len() / 2] as f64;
        let minutes = (g / 60.0).round();
        let (days, label) = if weekends {
            (365.0, "24×7")
        } else if bars * g >= 0.9 * DAY {
            (260.0, "24×5")
        } else {
            (252.0, "exchange hours")
        };
        found(
            bars * days,
            &format!("{minutes}-minute bars, {bars} a day, {label}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `civil_from_days` inverts `days_from_civil` across leap years, centuries and the epoch.
    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
    }

    fn days(start: &str, step_days: i64, n: usize, skip_weekends: bool) -> Vec<String> {
        let t0 = parse_timestamp(start).unwrap() as i64 / 86_400;
        let mut out = Vec::new();
        let mut d = t0;
        while out.len() < n {
            let wd = (d + 3).rem_euclid(7);
            if !(skip_weekends && wd >= 5) {
                let (y, m, dd) = civil(d);
                out.push(format!("{y:04}-{m:02}-{dd:02}"));
            }
            d += step_days;
        }
        out
    }

    /// The inverse of `days_from_civil` (Hinnant), for building test calendars.
    fn civil(z: i64) -> (i64, u32, u32) {
        let z = z + 719468;
        let era = if z >= 0 { z } else { z - 146096 } / 146097;
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }

    #[test]
    fn bar_frequency_reads_calendars() {
        let f = |t: &[String]| bar_frequency(t).unwrap();
        let weekly = days("2010-01-08", 7, 300, false);
        assert_eq!(f(&weekly).periods_per_year, 52.0);
        assert_eq!(f(&weekly).label, "weekly");
        assert_eq!(f(&days("2010-01-04", 1, 500, true)).periods_per_year, 252.0);
        assert_eq!(
            f(&days("2010-01-04", 1, 500, false)).periods_per_year,
            365.0
        );
        let monthly: Vec<String> = (0..60)
            .map(|k| format!("{:04}-{:02}-28", 2000 + k / 12, k % 12 + 1))
            .collect();
        assert_eq!(f(&monthly).periods_per_year, 12.0);
        // Minute bars 9:30..16:00 on weekdays: 390 a day, exchange hours.
        let mut minutes = Vec::new();
        for d in days("2020-03-02", 1, 10, true) {
            for k in 0..390 {
                minutes.push(format!(
                    "{d}T{:02}:{:02}:00",
                    9 + (30 + k) / 60,
                    (30 + k) % 60
                ));
            }
        }
        let m = f(&minutes);
        assert_eq!(m.periods_per_year, 390.0 * 252.0);
        assert_eq!(m.label, "1-minute bars, 390 a day, exchange hours");
        // Hourly FX, 24×5.
        let mut hours = Vec::new();
        for d in days("2020-03-02", 1, 20, true) {
            for h in 0..24 {
                hours.push(format!("{d}T{h:02}:00"));
            }
        }
        assert_eq!(f(&hours).periods_per_year, 24.0 * 260.0);
        // Epoch seconds, daily; a panel's repeated times count once.
        let epoch: Vec<String> = (0..300)
            .flat_map(|k| {
                let t = 1_600_000_000 + 86_400 * 7 * k;
                [t.to_string(), t.to_string()]
            })
            .collect();
        assert_eq!(f(&epoch).periods_per_year, 52.0);
        // Row indices and too few rows are not times.
        let idx: Vec<String> = (0..100).map(|k| k.to_string()).collect();
        assert_eq!(bar_frequency(&idx), None);
        assert_eq!(bar_frequency(&weekly[..2]), None);
    }

    #[test]
    fn parses_dates_datetimes_and_numbers() {
        assert_eq!(parse_timestamp("1970-01-01"), Some(0.0));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400.0));
        // 2018-12-31 is day 17896 since the epoch.
        assert_eq!(parse_timestamp("2018-12-31"), Some(17_896.0 * 86_400.0));
        assert_eq!(
            parse_timestamp("2017-04-19T09:00:00"),
            parse_timestamp("2017-04-19 09:00:00Z")
        );
        assert_eq!(
            parse_timestamp("2017-04-19T09:30").unwrap() - parse_timestamp("2017-04-19").unwrap(),
            9.5 * 3600.0
        );
        assert_eq!(parse_timestamp("1546214400"), Some(1_546_214_400.0));
        assert!(parse_timestamp("2000-02-29").is_some());
        for bad in [
            "2001-02-29",
            "2018-13-01",
            "18-01-01",
            "yesterday",
            "2018-01-01T25:00",
            "",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
