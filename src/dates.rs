//! Civil dates, RFC 3339 / ISO 8601 date-times and the user's local day, week, month and year boundaries.
//!
//! Instants are milliseconds since 1970-01-01T00:00:00Z (`i64`). Days are numbered from 1970-01-01 (day 0) in the
//! proleptic Gregorian calendar; a *local* day number is the day in the user's time zone, given as a fixed offset
//! from UTC in minutes (`+120` for UTC+2). Weeks start on Sunday (the Dataverse default for the relative week
//! operators). Every function is total: no input makes it panic, arithmetic saturates, and the parsers return `None`
//! for anything that is not a valid date.

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds in a minute.
pub const MS_PER_MINUTE: i64 = 60_000;

/// Days are clamped to this range (about ±27 million years) so that calendar arithmetic cannot overflow.
const MAX_DAYS: i64 = 10_000_000_000;

/// Whether `year` is a leap year in the proleptic Gregorian calendar.
pub fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// The number of days in `month` (1..=12) of `year`; 0 for a month out of range.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The day number (days since 1970-01-01) of a civil date. `month` and `day` out of range are clamped into
/// 1..=12 and 1..=days-in-month; `year` is clamped to ±1,000,000,000.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Howard Hinnant's days_from_civil, on clamped inputs so that nothing overflows.
    let y0 = year.clamp(-1_000_000_000, 1_000_000_000);
    let m = month.clamp(1, 12);
    let d = day.clamp(1, days_in_month(y0, m).max(1));
    let y = if m <= 2 { y0 - 1 } else { y0 };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (i64::from(m) + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day number (days since 1970-01-01). Day numbers beyond about
/// ±27 million years are clamped.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.clamp(-MAX_DAYS, MAX_DAYS) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day of the week of a day number: 0 = Sunday ... 6 = Saturday.
pub fn weekday(days: i64) -> u32 {
    // 1970-01-01 was a Thursday (4).
    (days.clamp(-MAX_DAYS, MAX_DAYS) + 4).rem_euclid(7) as u32
}

fn offset_ms(utc_offset_minutes: i32) -> i64 {
    i64::from(utc_offset_minutes) * MS_PER_MINUTE
}

/// The local day number of instant `ms` for a user at `utc_offset_minutes` from UTC.
pub fn local_day(ms: i64, utc_offset_minutes: i32) -> i64 {
    ms.saturating_add(offset_ms(utc_offset_minutes)).div_euclid(MS_PER_DAY)
}

/// The instant (UTC milliseconds) at which local day `days` starts (local midnight).
pub fn day_start_ms(days: i64, utc_offset_minutes: i32) -> i64 {
    days.clamp(-MAX_DAYS, MAX_DAYS).saturating_mul(MS_PER_DAY).saturating_sub(offset_ms(utc_offset_minutes))
}

/// The instant at which the local day containing `ms` starts.
pub fn local_day_start(ms: i64, utc_offset_minutes: i32) -> i64 {
    day_start_ms(local_day(ms, utc_offset_minutes), utc_offset_minutes)
}

/// The first day (a Sunday) of the week containing day `days`.
pub fn week_start_day(days: i64) -> i64 {
    let d = days.clamp(-MAX_DAYS, MAX_DAYS);
    d - i64::from(weekday(d))
}

/// The first day of the month containing day `days`.
pub fn month_start_day(days: i64) -> i64 {
    let (y, m, _) = civil_from_days(days);
    days_from_civil(y, m, 1)
}

/// The first day (January 1st) of the year containing day `days`.
pub fn year_start_day(days: i64) -> i64 {
    let (y, _, _) = civil_from_days(days);
    days_from_civil(y, 1, 1)
}

/// Day `days` plus `n` days (saturating).
pub fn add_days(days: i64, n: i64) -> i64 {
    days.saturating_add(n).clamp(-MAX_DAYS, MAX_DAYS)
}

/// Day `days` plus `n` months; the day of the month is clamped to the end of the target month (January 31st
/// plus one month is February 28th or 29th).
pub fn add_months(days: i64, n: i64) -> i64 {
    let (y, m, d) = civil_from_days(days);
    let n = n.clamp(-12_000_000_000, 12_000_000_000);
    let total = y * 12 + i64::from(m) - 1 + n;
    let ny = total.div_euclid(12);
    let nm = (total.rem_euclid(12) + 1) as u32;
    let nd = d.min(days_in_month(ny, nm));
    days_from_civil(ny, nm, nd)
}

/// Day `days` plus `n` years; February 29th becomes February 28th in a common year.
pub fn add_years(days: i64, n: i64) -> i64 {
    add_months(days, n.clamp(-1_000_000_000, 1_000_000_000) * 12)
}

/// Reads `YYYY-MM-DD` (exactly; four-digit year) into `(year, month, day)`.
pub fn parse_date(s: &str) -> Option<(i64, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[0..4])?;
    let m = digits(&b[5..7])? as u32;
    let d = digits(&b[8..10])? as u32;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some((y, m, d))
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// What a date-time text says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDateTime {
    /// Day number of the date as written.
    pub days: i64,
    /// Milliseconds since midnight as written (0 for a date only).
    pub ms_of_day: i64,
    /// The written offset from UTC in minutes; `None` when the text has no zone (a date only, or no `Z`/offset).
    pub offset_minutes: Option<i32>,
    /// The text was a date without a time.
    pub date_only: bool,
}

impl ParsedDateTime {
    /// The instant, reading a text without a zone as local time at `utc_offset_minutes`.
    pub fn instant(&self, utc_offset_minutes: i32) -> i64 {
        let off = self.offset_minutes.unwrap_or(utc_offset_minutes);
        day_start_ms(self.days, off).saturating_add(self.ms_of_day)
    }
}

/// Reads an RFC 3339 / ISO 8601 date or date-time: `2026-11-27`, `2026-11-27T09:30`, `2026-11-27T09:30:00Z`,
/// `2026-11-27T09:30:00.123+02:00`, `2026-11-27 09:30:00`, offsets as `+02:00`, `+0200` or `+02`. Surrounding
/// whitespace is ignored. `None` for anything else (including impossible dates such as February 30th).
pub fn parse_datetime_parts(s: &str) -> Option<ParsedDateTime> {
    let s = s.trim();
    if !s.is_ascii() || s.len() < 10 {
        return None;
    }
    let (y, m, d) = parse_date(&s[..10])?;
    let days = days_from_civil(y, m, d);
    let rest = &s.as_bytes()[10..];
    if rest.is_empty() {
        return Some(ParsedDateTime { days, ms_of_day: 0, offset_minutes: None, date_only: true });
    }
    if rest[0] != b'T' && rest[0] != b't' && rest[0] != b' ' {
        return None;
    }
    let t = &rest[1..];
    // HH:MM
    if t.len() < 5 || t[2] != b':' {
        return None;
    }
    let hh = digits(&t[0..2])?;
    let mm = digits(&t[3..5])?;
    let mut i = 5;
    let mut ss = 0;
    let mut frac_ms = 0;
    if t.len() >= i + 3 && t[i] == b':' {
        ss = digits(&t[i + 1..i + 3])?;
        i += 3;
        if i < t.len() && (t[i] == b'.' || t[i] == b',') {
            i += 1;
            let start = i;
            while i < t.len() && t[i].is_ascii_digit() {
                i += 1;
            }
            let frac = &t[start..i];
            if frac.is_empty() {
                return None;
            }
            let mut v = 0;
            for k in 0..3 {
                v = v * 10 + frac.get(k).map_or(0, |c| i64::from(c - b'0'));
            }
            frac_ms = v;
        }
    }
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let zone = &t[i..];
    let offset_minutes = match zone {
        [] => None,
        [b'Z'] | [b'z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (oh, om) = match rest {
                [a, b] => (digits(&[*a, *b])?, 0),
                [a, b, b':', c, d] | [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let total = (oh * 60 + om) as i32;
            Some(if *sign == b'-' { -total } else { total })
        }
        _ => return None,
    };
    let ms_of_day = ((hh * 60 + mm) * 60 + ss) * 1000 + frac_ms;
    Some(ParsedDateTime { days, ms_of_day, offset_minutes, date_only: false })
}

/// Reads a date or date-time (see [`parse_datetime_parts`]) into an instant. A date only means local midnight of
/// the user at `utc_offset_minutes`; a date-time without a zone is read as the user's local time.
pub fn parse_datetime(s: &str, utc_offset_minutes: i32) -> Option<i64> {
    parse_datetime_parts(s).map(|p| p.instant(utc_offset_minutes))
}

/// Formats an instant as Dataverse writes date-times in the Web API: `2026-11-27T09:30:00Z` (UTC, whole seconds).
pub fn format_datetime(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// Formats an instant as JavaScript's `Date.prototype.toISOString` does: `2026-11-28T03:04:05.678Z`.
pub fn format_datetime_millis(ms: i64) -> String {
    let s = format_datetime(ms);
    format!("{}.{:03}Z", &s[..s.len() - 1], ms.rem_euclid(1000))
}

/// Formats a day number as `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_as_javascript_writes_them() {
        assert_eq!(format_datetime_millis(1_795_834_845_678), "2026-11-28T03:00:45.678Z");
        assert_eq!(format_datetime_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_datetime_millis(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn civil_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn weekdays() {
        // 2026-11-26 is a Thursday, 2026-11-22 the Sunday before.
        let thu = days_from_civil(2026, 11, 26);
        assert_eq!(weekday(thu), 4);
        assert_eq!(week_start_day(thu), days_from_civil(2026, 11, 22));
        assert_eq!(week_start_day(days_from_civil(2026, 11, 22)), days_from_civil(2026, 11, 22));
        assert_eq!(week_start_day(days_from_civil(2026, 11, 28)), days_from_civil(2026, 11, 22));
    }

    #[test]
    fn parses_rfc3339() {
        let z = parse_datetime("2026-11-27T09:30:00Z", 120).unwrap();
        assert_eq!(format_datetime(z), "2026-11-27T09:30:00Z");
        assert_eq!(parse_datetime("2026-11-27T11:30:00+02:00", 0), Some(z));
        assert_eq!(parse_datetime("2026-11-27T11:30:00+0200", 0), Some(z));
        assert_eq!(parse_datetime("2026-11-27T04:30:00-05", 0), Some(z));
        assert_eq!(parse_datetime("2026-11-27T09:30:00.250Z", 0), Some(z + 250));
        assert_eq!(parse_datetime("2026-11-27T09:30:00.2Z", 0), Some(z + 200));
        assert_eq!(parse_datetime("2026-11-27T09:30:00.123456789Z", 0), Some(z + 123));
        assert_eq!(parse_datetime("2026-11-27T09:30Z", 0), Some(z));
        assert_eq!(parse_datetime(" 2026-11-27 09:30:00z ", 0), Some(z));
        // No zone: local time of the user.
        assert_eq!(parse_datetime("2026-11-27T11:30:00", 120), Some(z));
        // Date only: local midnight of the user (UTC+2 -> 22:00 the day before).
        assert_eq!(format_datetime(parse_datetime("2026-11-27", 120).unwrap()), "2026-11-26T22:00:00Z");
        assert_eq!(format_datetime(parse_datetime("2026-11-27", -300).unwrap()), "2026-11-27T05:00:00Z");
    }

    #[test]
    fn rejects_bad_dates() {
        for s in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-29",
            "2026-00-10",
            "2026-11-31",
            "2026-11-27T24:00:00Z",
            "2026-11-27T09:60:00Z",
            "2026-11-27T09:30:61Z",
            "2026-11-27T09:30:00+25:00",
            "2026-11-27T09:30:00.Z",
            "2026-11-27X09:30",
            "2026-11-27T9:30",
            "2026-11-27T09:30:00Zjunk",
            "26-11-27",
            "２０２６-11-27",
            "+026-11-27",
        ] {
            assert_eq!(parse_datetime(s, 0), None, "{s}");
        }
        assert!(parse_datetime("2024-02-29", 0).is_some());
    }

    #[test]
    fn local_boundaries() {
        // now = 2026-11-25T23:30:00Z at UTC+2 is 2026-11-26 01:30 local.
        let now = parse_datetime("2026-11-25T23:30:00Z", 0).unwrap();
        let day = local_day(now, 120);
        assert_eq!(format_date(day), "2026-11-26");
        assert_eq!(format_datetime(local_day_start(now, 120)), "2026-11-25T22:00:00Z");
        assert_eq!(format_date(local_day(now, 0)), "2026-11-25");
        assert_eq!(format_date(local_day(now, -600)), "2026-11-25");
        assert_eq!(format_date(month_start_day(day)), "2026-11-01");
        assert_eq!(format_date(year_start_day(day)), "2026-01-01");
    }

    #[test]
    fn month_arithmetic_clamps() {
        let jan31 = days_from_civil(2026, 1, 31);
        assert_eq!(format_date(add_months(jan31, 1)), "2026-02-28");
        assert_eq!(format_date(add_months(days_from_civil(2028, 1, 31), 1)), "2028-02-29");
        assert_eq!(format_date(add_months(jan31, -2)), "2025-11-30");
        assert_eq!(format_date(add_months(jan31, 13)), "2027-02-28");
        assert_eq!(format_date(add_years(days_from_civil(2028, 2, 29), 1)), "2029-02-28");
        assert_eq!(format_date(add_days(jan31, 1)), "2026-02-01");
    }

    #[test]
    fn extremes_do_not_panic() {
        for ms in [i64::MIN, i64::MAX, 0, -1] {
            for off in [i32::MIN, i32::MAX, 0, 840, -720] {
                let d = local_day(ms, off);
                let _ = day_start_ms(d, off);
                let _ = local_day_start(ms, off);
                let _ = week_start_day(d);
                let _ = month_start_day(d);
                let _ = year_start_day(d);
                let _ = add_months(d, i64::MAX);
                let _ = add_months(d, i64::MIN);
                let _ = add_years(d, i64::MIN);
                let _ = add_days(d, i64::MAX);
                let _ = format_datetime(ms);
                let _ = format_date(d);
            }
        }
        let _ = days_from_civil(i64::MAX, 99, 99);
        let _ = days_from_civil(i64::MIN, 0, 0);
    }
}
