//! Number and date formatting shared by every playlist line.
//!
//! Durations are printed from integer arithmetic so that the origin and every edge print the same
//! text for the same window, whatever the platform's float formatting does.

use std::fmt;
use std::time::Duration;

/// Decimal places used for every duration in a playlist (`EXTINF`, `DURATION`, `PART-TARGET`,
/// hold-backs). Ten microseconds is finer than any frame or audio sample period we carry.
pub(crate) const DURATION_DECIMALS: u32 = 5;

/// Nanoseconds in one printed unit (10^-5 s).
const NANOS_PER_UNIT: u128 = 10_000;
/// Printed units per second.
const UNITS_PER_SECOND: u64 = 100_000;

/// A duration printed as `decimal-floating-point` seconds with [`DURATION_DECIMALS`] places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Seconds(pub(crate) Duration);

impl Seconds {
    /// The duration in printed units (10 µs), rounded half up: the exact value the text shows.
    pub(crate) fn units(self) -> u64 {
        let units = (self.0.as_nanos() + NANOS_PER_UNIT / 2) / NANOS_PER_UNIT;
        u64::try_from(units).unwrap_or(u64::MAX)
    }

    /// The printed value rounded to the nearest whole second (half up), as a client computes it.
    ///
    /// RFC 8216bis §4.4.3.1: "The EXTINF duration of each Media Segment in a Playlist file,
    /// when rounded to the nearest integer, MUST be less than or equal to the Target Duration."
    /// Rounding the *printed* value keeps our check identical to the client's.
    pub(crate) fn rounded_whole(self) -> u64 {
        self.units().saturating_add(UNITS_PER_SECOND / 2) / UNITS_PER_SECOND
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = self.units();
        write!(
            f,
            "{}.{:0width$}",
            units / UNITS_PER_SECOND,
            units % UNITS_PER_SECOND,
            width = DURATION_DECIMALS as usize
        )
    }
}

/// A wall-clock instant (milliseconds since the Unix epoch) printed as ISO 8601 UTC with
/// milliseconds, e.g. `2025-11-25T08:56:00.123Z`.
///
/// RFC 8216bis §4.4.4.6: the date-time "SHOULD indicate a time zone and fractional parts of
/// seconds, to at least millisecond accuracy". Formatting is done here with a civil-from-days
/// conversion instead of a date crate: it is a dozen lines of integer arithmetic, total over
/// every `u64` input, and keeps the crate free of clock-reading dependencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProgramDateTime(pub(crate) u64);

impl fmt::Display for ProgramDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        let millis = ms % 1000;
        let secs = ms / 1000;
        let (days, secs_of_day) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60
        )
    }
}

/// Proleptic Gregorian (year, month, day) for a count of days since 1970-01-01.
///
/// Works in 400-year eras of 146 097 days, with years starting on March 1 so that the leap day
/// falls at the end of the year. All values are non-negative because the input is.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, which starts an era.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097; // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_print_five_decimals() {
        assert_eq!(Seconds(Duration::from_millis(200)).to_string(), "0.20000");
        assert_eq!(
            Seconds(Duration::from_micros(1_033_333)).to_string(),
            "1.03333"
        );
        assert_eq!(
            Seconds(Duration::from_nanos(23_219_955)).to_string(),
            "0.02322"
        );
        assert_eq!(Seconds(Duration::ZERO).to_string(), "0.00000");
        assert_eq!(Seconds(Duration::MAX).units(), u64::MAX);
    }

    #[test]
    fn rounding_follows_the_printed_value() {
        // 1.499996 prints as 1.50000, which a client rounds to 2.
        assert_eq!(
            Seconds(Duration::from_nanos(1_499_996_000)).rounded_whole(),
            2
        );
        assert_eq!(Seconds(Duration::from_millis(1_499)).rounded_whole(), 1);
        assert_eq!(Seconds(Duration::from_millis(2_500)).rounded_whole(), 3);
    }

    #[test]
    fn program_date_time_is_iso8601_utc() {
        assert_eq!(ProgramDateTime(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            ProgramDateTime(951_782_400_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            ProgramDateTime(1_764_060_960_123).to_string(),
            "2025-11-25T08:56:00.123Z"
        );
        assert_eq!(
            ProgramDateTime(4_107_542_399_999).to_string(),
            "2100-02-28T23:59:59.999Z"
        );
        // Total over u64: far-future years print with more digits and never panic.
        assert!(ProgramDateTime(u64::MAX).to_string().ends_with('Z'));
    }
}
