//! Time on the wire: RFC 3339 in, UTC with millisecond precision out; epoch milliseconds inside.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, UTC. The one representation of an instant inside fieldvisit.
pub type Millis = i64;

/// Parses an RFC 3339 timestamp that carries an offset (`2026-11-27T10:00:00+08:00`).
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis())
}

/// Formats an instant the way the server answers: UTC, milliseconds, `Z`.
pub fn format_utc(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_offset_to_utc() {
        let ms = parse_rfc3339("2026-11-27T10:00:00+08:00").expect("valid");
        assert_eq!(format_utc(ms), "2026-11-27T02:00:00.000Z");
    }

    #[test]
    fn refuses_missing_offset() {
        assert_eq!(parse_rfc3339("2026-11-27T10:00:00"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
