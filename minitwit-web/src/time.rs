//! Message dates as the reference shows them: `YYYY-MM-DD @ HH:MM`, UTC.

use minitwit_core::Timestamp;

/// Formats seconds since the Unix epoch as `YYYY-MM-DD @ HH:MM` (UTC).
pub(crate) fn format_timestamp(seconds: Timestamp) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} @ {:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31 and 1..=12).
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::format_timestamp;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_timestamp(0), "1970-01-01 @ 00:00");
        assert_eq!(format_timestamp(59), "1970-01-01 @ 00:00");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29 @ 00:00");
        assert_eq!(format_timestamp(1_234_567_890), "2009-02-13 @ 23:31");
        assert_eq!(format_timestamp(1_700_000_000), "2023-11-14 @ 22:13");
        assert_eq!(format_timestamp(4_107_542_400), "2100-03-01 @ 00:00");
        assert_eq!(format_timestamp(-1), "1969-12-31 @ 23:59");
    }

    #[test]
    fn every_day_of_a_leap_cycle_follows_the_previous_one() {
        // Walking day by day for 400 years, the date always advances by one.
        let mut previous = format_timestamp(0);
        for day in 1..146_097_i64 {
            let current = format_timestamp(day * 86_400);
            assert!(current > previous, "{current} after {previous}");
            assert!(current.ends_with("@ 00:00"));
            previous = current;
        }
        assert_eq!(previous, "2369-12-31 @ 00:00");
    }
}
