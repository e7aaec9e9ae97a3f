//! OGC API's `datetime` parameter, over a point's `created_at`.

use geofn_guest::http::Problem;

/// One end of a creation-time range, as RFC 3339 text PostgreSQL parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBound {
    /// `YYYY-MM-DDTHH:MM:SS[.f](Z|±HH:MM)`; a bare date becomes its midnight UTC.
    pub instant: String,
    /// The client gave a bare date: as an end, the whole day is included.
    pub whole_day: bool,
}

/// OGC API's `datetime`, over `created_at`: an instant, or an interval with
/// either end open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<TimeBound>,
    pub end: Option<TimeBound>,
}

/// Parses OGC API's `datetime`: an instant, or an interval `start/end`
/// whose open end is empty or `..`.
pub fn parse_datetime(raw: &str) -> Result<TimeRange, Problem> {
    let bound = |part: &str| -> Result<Option<TimeBound>, Problem> {
        if part.is_empty() || part == ".." {
            return Ok(None);
        }
        rfc3339(part).map(Some).ok_or_else(|| {
            bad(format!(
                "{part:?} is not an RFC 3339 date or date-time (e.g. 2026-11-26T18:00:00Z)"
            ))
        })
    };
    match raw.split_once('/') {
        None => {
            let instant =
                bound(raw)?.ok_or_else(|| bad("datetime needs an instant or an interval"))?;
            Ok(TimeRange {
                start: Some(instant.clone()),
                end: Some(instant),
            })
        }
        Some((start, end)) => {
            let range = TimeRange {
                start: bound(start)?,
                end: bound(end)?,
            };
            if range.start.is_none() && range.end.is_none() {
                return Err(bad("an interval needs at least one closed end"));
            }
            Ok(range)
        }
    }
}

/// An RFC 3339 `full-date` or `date-time`, in the canonical UTC text
/// PostgreSQL reads.
fn rfc3339(text: &str) -> Option<TimeBound> {
    use geofn_guest::rfc3339;
    if let Some(date) = rfc3339::date(text) {
        return Some(TimeBound {
            instant: format!("{date}T00:00:00Z"),
            whole_day: true,
        });
    }
    Some(TimeBound {
        instant: rfc3339::instant(text)?,
        whole_day: false,
    })
}

fn bad(detail: impl Into<String>) -> Problem {
    Problem::bad_parameter("datetime", detail)
}
