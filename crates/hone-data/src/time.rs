//! Timestamp parsing for the time column: ISO-8601 dates and date-times, or plain numbers.
//!
//! Timestamps are only ordered, never converted between zones: a naive time and one with `Z`
//! are read the same way. Parsed values are seconds since 1970-01-01 (or the number itself).

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; Howard Hinnant's method).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
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

#[cfg(test)]
mod tests {
    use super::*;

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
