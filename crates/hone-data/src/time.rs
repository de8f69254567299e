//! Timestamp parsing for the time column, and the bar frequency read off the timestamps.
//!
//! Without `[data] time_format`, hone reads ISO-8601 dates and date-times
//! (`YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]`, optionally ending in `Z` or a UTC offset
//! `±HH:MM` / `±HHMM`) or plain numbers. With it, every cell is read by chrono's strftime syntax
//! (`%m/%d/%Y`, `%Y-%m-%d %H:%M:%S%.f`, `%Y-%m-%dT%H:%M:%S%z`...), or as epoch seconds or
//! milliseconds (`epoch_s`, `epoch_ms`). A timestamp with an offset is converted to UTC; one
//! without is taken as it is (naive). Parsed values are seconds since 1970-01-01 (or the number
//! itself), used to check the order of rows.

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, NaiveDateTime};

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

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH:MM|±HHMM]`, or a number, into a
/// sortable key (seconds since 1970, in UTC when an offset is given).
pub fn parse_timestamp(text: &str) -> Option<f64> {
    parse_auto(text).map(|(key, _)| key)
}

/// [`parse_timestamp`], also saying the UTC offset in seconds when the text gives one (`Z` is 0).
fn parse_auto(text: &str) -> Option<(f64, Option<i32>)> {
    let s = text.trim();
    if let Ok(v) = s.parse::<f64>() {
        return v.is_finite().then_some((v, None));
    }
    let (s, offset) = split_offset(s)?;
    let local = parse_naive(s)?;
    Some((local - f64::from(offset.unwrap_or(0)), offset))
}

/// Splits a trailing `Z`, `±HH:MM` or `±HHMM` off a date-time (never off a bare date, whose
/// `-DD` would look like an offset). `None` when the offset is malformed.
fn split_offset(s: &str) -> Option<(&str, Option<i32>)> {
    if let Some(rest) = s.strip_suffix('Z') {
        return Some((rest, Some(0)));
    }
    // An offset can only follow a clock: look for its sign after the `T` or space.
    let Some(clock_at) = s.find(['T', ' ']) else {
        return Some((s, None));
    };
    let clock = &s[clock_at + 1..];
    let Some(sign_at) = clock.rfind(['+', '-']) else {
        return Some((s, None));
    };
    let (head, tail) = (&s[..clock_at + 1 + sign_at], &clock[sign_at..]);
    let sign = if tail.starts_with('-') { -1 } else { 1 };
    let b = tail.as_bytes();
    let hhmm: [u8; 4] = match b.len() {
        6 if b[3] == b':' => [b[1], b[2], b[4], b[5]],
        5 => [b[1], b[2], b[3], b[4]],
        _ => return None,
    };
    if !hhmm.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let h = i32::from(hhmm[0] - b'0') * 10 + i32::from(hhmm[1] - b'0');
    let m = i32::from(hhmm[2] - b'0') * 10 + i32::from(hhmm[3] - b'0');
    if h > 23 || m > 59 {
        return None;
    }
    Some((head.trim_end(), Some(sign * (h * 3600 + m * 60))))
}

/// Parses a date or date-time without an offset into seconds since 1970.
fn parse_naive(s: &str) -> Option<f64> {
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

/// How the time column is read: `[data] time_format`.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeFormat {
    /// No `time_format`: ISO-8601 dates and date-times (with an optional `Z` or UTC offset), or
    /// plain numbers (epoch times or row numbers), as [`parse_timestamp`] reads them.
    Auto,
    /// `epoch_s`: seconds since 1970-01-01 UTC (fractions allowed).
    EpochSeconds,
    /// `epoch_ms`: milliseconds since 1970-01-01 UTC.
    EpochMillis,
    /// A chrono strftime pattern such as `%m/%d/%Y`; its parsed items are kept so that each
    /// cell is parsed without reading the pattern again.
    Strftime {
        /// The pattern as written.
        pattern: String,
        /// The pattern's items.
        items: Vec<Item<'static>>,
    },
}

/// One parsed timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp {
    /// Seconds since 1970-01-01 (UTC when the timestamp had an offset), or the number itself
    /// for plain numbers in automatic mode: what the row order is checked on.
    pub key: f64,
    /// Whether the text carried a UTC offset (`Z` counts; epoch times are UTC by definition).
    pub zoned: bool,
    /// The ISO-8601 form shown in outputs, when it differs from the file's text: UTC with `Z`
    /// for zoned times, `YYYY-MM-DD` for dates, `YYYY-MM-DDTHH:MM:SS[.fff]` otherwise.
    pub iso: Option<String>,
}

impl TimeFormat {
    /// Reads a `time_format` setting: `None` is automatic, `epoch_s` / `epoch_ms` are epoch
    /// times, anything else must be a valid chrono strftime pattern with at least one field.
    pub fn from_setting(setting: Option<&str>) -> Result<Self, String> {
        let Some(pattern) = setting else {
            return Ok(Self::Auto);
        };
        match pattern {
            "epoch_s" => return Ok(Self::EpochSeconds),
            "epoch_ms" => return Ok(Self::EpochMillis),
            _ => {}
        }
        let items: Vec<Item<'static>> = StrftimeItems::new(pattern)
            .map(|item| match item {
                // Owned copies, so that the format outlives the setting's text.
                Item::Literal(s) => Item::OwnedLiteral(s.into()),
                Item::Space(s) => Item::OwnedSpace(s.into()),
                Item::OwnedLiteral(s) => Item::OwnedLiteral(s),
                Item::OwnedSpace(s) => Item::OwnedSpace(s),
                Item::Numeric(n, p) => Item::Numeric(n, p),
                Item::Fixed(f) => Item::Fixed(f),
                Item::Error => Item::Error,
            })
            .collect();
        if items.contains(&Item::Error) {
            return Err(format!(
                "data.time_format = {pattern:?} is not a valid strftime pattern (chrono's syntax: \
                 %Y-%m-%d, %m/%d/%Y, %Y-%m-%d %H:%M:%S%.f, %d.%m.%Y %H:%M, %z for an offset; or \
                 \"epoch_s\" / \"epoch_ms\")"
            ));
        }
        if !items
            .iter()
            .any(|i| matches!(i, Item::Numeric(..) | Item::Fixed(_)))
        {
            return Err(format!(
                "data.time_format = {pattern:?} has no date or time field (such as %Y, %m, %d)"
            ));
        }
        Ok(Self::Strftime {
            pattern: pattern.to_string(),
            items,
        })
    }

    /// What a timestamp is expected to look like, for error messages.
    pub fn expected(&self) -> String {
        match self {
            Self::Auto => "YYYY-MM-DD, YYYY-MM-DD[T ]HH:MM[:SS[.fff]] with an optional Z or \
                           ±HH:MM offset, or a number; set data.time_format for other formats"
                .into(),
            Self::EpochSeconds => "epoch seconds (time_format = \"epoch_s\")".into(),
            Self::EpochMillis => "epoch milliseconds (time_format = \"epoch_ms\")".into(),
            Self::Strftime { pattern, .. } => format!("time_format {pattern:?}"),
        }
    }

    /// Parses one cell; the error says why it does not match (chrono's reason for patterns).
    pub fn parse(&self, text: &str) -> Result<Stamp, String> {
        let s = text.trim();
        match self {
            Self::Auto => {
                let (key, offset) = parse_auto(s).ok_or_else(|| "not a timestamp".to_string())?;
                let iso = match offset {
                    Some(_) => Some(iso_from_key(key, true)?),
                    None => None,
                };
                Ok(Stamp {
                    key,
                    zoned: offset.is_some(),
                    iso,
                })
            }
            Self::EpochSeconds | Self::EpochMillis => {
                let scale = if *self == Self::EpochMillis {
                    1e-3
                } else {
                    1.0
                };
                let v = s
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| "not a number".to_string())?;
                let key = v * scale;
                Ok(Stamp {
                    key,
                    zoned: true,
                    iso: Some(iso_from_key(key, true)?),
                })
            }
            Self::Strftime { items, .. } => {
                let mut parsed = Parsed::new();
                chrono::format::parse(&mut parsed, s, items.iter()).map_err(|e| e.to_string())?;
                let (at, zoned, date_only) = if parsed.offset().is_some() {
                    let dt = parsed.to_datetime().map_err(|e| e.to_string())?;
                    (dt.naive_utc(), true, false)
                } else if let Ok(at) = parsed.to_naive_datetime_with_offset(0) {
                    (at, false, false)
                } else {
                    let date = parsed.to_naive_date().map_err(|e| e.to_string())?;
                    (date.and_time(chrono::NaiveTime::MIN), false, true)
                };
                Ok(Stamp {
                    key: key_of(&at),
                    zoned,
                    iso: Some(iso_of(&at, zoned, date_only)),
                })
            }
        }
    }
}

/// Seconds since 1970 of a UTC (or naive) date-time.
fn key_of(at: &NaiveDateTime) -> f64 {
    let utc = at.and_utc();
    utc.timestamp() as f64 + f64::from(utc.timestamp_subsec_nanos()) * 1e-9
}

/// The ISO-8601 text of a date-time: `YYYY-MM-DD` for dates, else `YYYY-MM-DDTHH:MM:SS` with
/// the fraction when there is one (3, 6 or 9 digits) and `Z` when it is UTC.
fn iso_of(at: &NaiveDateTime, zoned: bool, date_only: bool) -> String {
    if date_only {
        at.format("%Y-%m-%d").to_string()
    } else if zoned {
        at.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
    }
}

/// The ISO-8601 text of seconds since 1970 (to the microsecond: an `f64` of epoch seconds holds
/// no more).
fn iso_from_key(key: f64, zoned: bool) -> Result<String, String> {
    let micros = (key * 1e6).round();
    let out_of_range = || format!("{key} seconds since 1970 is out of range");
    if micros.is_nan() || micros.abs() >= 9.0e18 {
        return Err(out_of_range());
    }
    let at = DateTime::from_timestamp_micros(micros as i64).ok_or_else(out_of_range)?;
    Ok(iso_of(&at.naive_utc(), zoned, false))
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
                let (y, m, dd) = civil_from_days(d);
                out.push(format!("{y:04}-{m:02}-{dd:02}"));
            }
            d += step_days;
        }
        out
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
    fn time_formats_parse_to_utc_and_iso() {
        let f = |spec: &str| TimeFormat::from_setting(Some(spec)).unwrap();
        let us = f("%m/%d/%Y").parse("1/4/1999").unwrap();
        assert_eq!(us.key, parse_timestamp("1999-01-04").unwrap());
        assert_eq!((us.zoned, us.iso.as_deref()), (false, Some("1999-01-04")));
        let ms = f("%Y-%m-%d %H:%M:%S%.f")
            .parse("2024-01-02 09:30:00.250")
            .unwrap();
        assert_eq!(ms.iso.as_deref(), Some("2024-01-02T09:30:00.250"));
        assert_eq!(
            ms.key,
            parse_timestamp("2024-01-02T09:30:00").unwrap() + 0.25
        );
        let eu = f("%d.%m.%Y %H:%M").parse("02.01.2024 16:05").unwrap();
        assert_eq!(eu.iso.as_deref(), Some("2024-01-02T16:05:00"));
        // An offset is converted to UTC: 09:30 at -05:00 is 14:30Z.
        let z = f("%Y-%m-%dT%H:%M:%S%z")
            .parse("2024-01-02T09:30:00-0500")
            .unwrap();
        assert!(z.zoned);
        assert_eq!(z.iso.as_deref(), Some("2024-01-02T14:30:00Z"));
        let s = f("epoch_s").parse("1704205800").unwrap();
        assert_eq!(s.iso.as_deref(), Some("2024-01-02T14:30:00Z"));
        let m = f("epoch_ms").parse("1704205800500").unwrap();
        assert_eq!(m.iso.as_deref(), Some("2024-01-02T14:30:00.500Z"));
        assert_eq!(m.key, 1_704_205_800.5);
        // The reason a cell does not match comes from chrono.
        assert_eq!(
            f("%m/%d/%Y").parse("01-04-1999").unwrap_err(),
            "input contains invalid characters"
        );
        assert!(f("%m/%d/%Y").parse("2/30/1999").is_err());
        assert!(f("epoch_s").parse("soon").is_err());
        assert_eq!(
            f("epoch_s").expected(),
            "epoch seconds (time_format = \"epoch_s\")"
        );
        let bad = TimeFormat::from_setting(Some("%Y-%Q")).unwrap_err();
        assert!(bad.contains("not a valid strftime pattern"), "{bad}");
        assert!(TimeFormat::from_setting(Some("date")).is_err());
    }

    #[test]
    fn automatic_parsing_reads_offsets() {
        let auto = TimeFormat::Auto;
        let a = auto.parse("2024-01-02T09:30:00-05:00").unwrap();
        let b = auto.parse("2024-01-02 15:30:00+01:00").unwrap();
        let c = auto.parse("2024-01-02T14:30Z").unwrap();
        assert_eq!((a.key, b.key), (c.key, c.key));
        assert!(a.zoned && b.zoned && c.zoned);
        assert_eq!(a.iso.as_deref(), Some("2024-01-02T14:30:00Z"));
        assert_eq!(
            parse_timestamp("2024-01-02T09:30:00+0530"),
            Some(parse_timestamp("2024-01-02T04:00:00").unwrap())
        );
        let naive = auto.parse("2024-01-02").unwrap();
        assert!(!naive.zoned && naive.iso.is_none());
        for bad in [
            "2024-01-02T09:30:00-5",
            "2024-01-02T09:30+25:00",
            "2024-01-02T09:30-0é:00",
        ] {
            assert!(auto.parse(bad).is_err(), "{bad}");
        }
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
