//! Field parsers shared by the CSV and JSON Lines readers.
//!
//! Each returns a short, lower-case reason on failure; the reader adds the line
//! and field. The common timestamp shapes are parsed by hand (this is the hot
//! loop of ingestion); everything else falls back to jiff, which is the
//! reference for what is valid.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// Trims whitespace like `str::trim`, taking the ASCII-only path when both ends are ASCII.
pub(crate) fn trim(s: &str) -> &str {
    let inner = s.trim_ascii();
    // `trim_ascii` leaves U+000B (vertical tab) and non-ASCII whitespace, which `str::trim` removes.
    let other_edge = |b: &u8| *b >= 0x80 || *b == 0x0B;
    let bytes = inner.as_bytes();
    if bytes.first().is_some_and(other_edge) || bytes.last().is_some_and(other_edge) {
        inner.trim()
    } else {
        inner
    }
}

/// Days in a month of the proleptic Gregorian calendar.
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 for a valid civil date (Hinnant's `days_from_civil`).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits<const N: usize>(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b.get(..N)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Outcome of the hand-written fast path.
enum Fast {
    Ok(i64),
    Invalid(&'static str),
    /// Not one of the fast shapes: ask jiff.
    Other,
}

/// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`, `YYYY-MM-DD HH:MM:SS` (UTC).
fn fast_timestamp_micros(s: &[u8]) -> Fast {
    let (len, zulu) = match s.len() {
        10 => (10, false),
        19 => (19, false),
        20 if matches!(s[19], b'Z' | b'z') => (19, true),
        _ => return Fast::Other,
    };
    let (Some(year), Some(month), Some(day)) =
        (digits::<4>(s), digits::<2>(&s[5..]), digits::<2>(&s[8..]))
    else {
        return Fast::Other;
    };
    if s[4] != b'-' || s[7] != b'-' {
        return Fast::Other;
    }
    let year = year as i32;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Fast::Invalid("impossible calendar date");
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    if len == 19 {
        if !matches!(s[10], b'T' | b't' | b' ') || s[13] != b':' || s[16] != b':' {
            return Fast::Other;
        }
        let (Some(h), Some(m), Some(sec)) = (
            digits::<2>(&s[11..]),
            digits::<2>(&s[14..]),
            digits::<2>(&s[17..]),
        ) else {
            return Fast::Other;
        };
        if h > 23 || m > 59 || sec > 59 {
            // Leap seconds and other oddities: let jiff decide.
            return if sec == 60 && h <= 23 && m <= 59 {
                Fast::Other
            } else {
                Fast::Invalid("impossible time of day")
            };
        }
        secs += i64::from(h * 3600 + m * 60 + sec);
    }
    let _ = zulu;
    Fast::Ok(secs * 1_000_000)
}

/// The timestamp of `s`, already trimmed, when it has one of the hand-parsed
/// shapes and is valid: what [`parse_timestamp`] gives it. `None` says nothing
/// about validity (other shapes are left to [`parse_timestamp`]).
#[cfg(feature = "parallel")]
pub(crate) fn fast_timestamp(s: &[u8]) -> Option<Timestamp> {
    match fast_timestamp_micros(s) {
        Fast::Ok(us) => Timestamp::from_microsecond(us).ok(),
        Fast::Invalid(_) | Fast::Other => None,
    }
}

/// Parses a timestamp in any accepted format.
///
/// Accepted: RFC 3339 with an offset (`2024-03-01T10:00:00+01:00`, fractional
/// seconds allowed), a plain date (`2024-03-01`, midnight UTC), and a date-time
/// without offset (`2024-03-01 10:00:00` or with `T`, read as UTC).
/// Impossible dates such as `2024-02-30` are rejected.
pub(crate) fn parse_timestamp(raw: &str) -> Result<Timestamp, String> {
    let s = trim(raw);
    if s.is_empty() {
        return Err("empty timestamp".into());
    }
    match fast_timestamp_micros(s.as_bytes()) {
        Fast::Ok(us) => return Timestamp::from_microsecond(us).map_err(|e| e.to_string()),
        Fast::Invalid(reason) => return Err(format!("{reason}: `{s}`")),
        Fast::Other => {}
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return dt
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    match s.parse::<Date>() {
        Ok(d) => d
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!(
            "not an RFC 3339 timestamp or YYYY-MM-DD date: `{s}` ({e})"
        )),
    }
}

/// Parses a calendar date `YYYY-MM-DD` (a timestamp is accepted and its UTC date used).
pub(crate) fn parse_date(raw: &str) -> Result<Date, String> {
    let s = raw.trim();
    if let Ok(d) = s.parse::<Date>() {
        return Ok(d);
    }
    parse_timestamp(s).map(|ts| ts.to_zoned(TimeZone::UTC).date())
}

/// Parses a boolean flag (`true/false`, `1/0`, `yes/no`, `y/n`, `t/f`); empty is `false`.
pub(crate) fn parse_flag(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "f" | "no" | "n" => Ok(false),
        "1" | "true" | "t" | "yes" | "y" => Ok(true),
        other => Err(format!("not a boolean: `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_jiff() {
        for s in [
            "1970-01-01",
            "2024-02-29",
            "1999-12-31T23:59:59Z",
            "2024-03-05 14:22:07",
            "1900-03-01T00:00:00Z",
            "2199-12-31",
            "0001-01-01",
            "2000-02-29T12:00:00Z",
        ] {
            let Fast::Ok(us) = fast_timestamp_micros(s.as_bytes()) else {
                panic!("{s} not fast")
            };
            let reference = if s.len() == 10 {
                s.parse::<Date>()
                    .unwrap()
                    .to_zoned(TimeZone::UTC)
                    .unwrap()
                    .timestamp()
            } else {
                s.trim_end_matches('Z')
                    .parse::<DateTime>()
                    .unwrap()
                    .to_zoned(TimeZone::UTC)
                    .unwrap()
                    .timestamp()
            };
            assert_eq!(us, reference.as_microsecond(), "{s}");
        }
    }

    #[test]
    fn impossible_dates_are_rejected() {
        // `is_err()` here and in `flags_and_dates`: these parsers return a
        // `String` reason (the caller wraps it in `Error::Rejected` with the
        // line and field), so there is no variant to match.
        for s in [
            "2024-02-30",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31T00:00:00Z",
            "2024-01-01T24:00:00Z",
        ] {
            assert!(parse_timestamp(s).is_err(), "{s}");
        }
        assert!(parse_timestamp("2024-01-01T10:00:00.5+02:00").is_ok());
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("").is_err());
        assert_eq!(
            parse_timestamp("2024-01-01T10:00:00+02:00").unwrap(),
            parse_timestamp("2024-01-01T08:00:00Z").unwrap()
        );
    }

    #[test]
    fn trim_matches_str_trim() {
        for s in [
            "",
            " a ",
            "\u{3000}b\u{a0}",
            "\t c\u{2003}",
            "d",
            " \u{a0} ",
            "é ",
            "\u{b}¡A",
            "x\u{b}",
            " \u{85}y\u{1c}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn flags_and_dates() {
        assert_eq!(parse_flag(" Yes "), Ok(true));
        assert_eq!(parse_flag(""), Ok(false));
        // A `String` reason, no variant to match (see above).
        assert!(parse_flag("maybe").is_err());
        assert_eq!(parse_date("1980-05-17").unwrap().to_string(), "1980-05-17");
        assert!(parse_date("1980-02-30").is_err());
    }
}
