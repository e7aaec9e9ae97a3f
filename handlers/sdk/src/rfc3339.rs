//! RFC 3339 dates and instants, strictly: what OGC API's `datetime` and
//! CQL2's `DATE`/`TIMESTAMP` allow, and no more. Date libraries read more
//! (jiff: RFC 9557 annotations, ISO basic and week formats; PostgreSQL:
//! dozens of styles), so a strict check here is what keeps the text a
//! statement binds the text that was checked. Written out rather than
//! borrowed: a date-time parser costs a component ~180 KB, this ~2 KB.

/// A `full-date` (`2026-11-26`).
pub fn date(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (number(&b[..4])?, number(&b[5..7])?, number(&b[8..])?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&day).then(|| text.to_owned())
}

/// A `date-time` with `Z` or a numeric offset
/// (`2026-11-26T10:00:00.5+01:00`), `T` and `Z` upper-cased.
pub fn instant(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't') {
        return None;
    }
    date(&text[..10])?;
    let clock = &b[11..];
    if clock[2] != b':' || clock[5] != b':' {
        return None;
    }
    let (hour, minute, second) = (
        number(&clock[..2])?,
        number(&clock[3..5])?,
        number(&clock[6..8])?,
    );
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &clock[8..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset_ok = match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            number(&[*h1, *h2]).is_some_and(|h| h <= 23)
                && number(&[*m1, *m2]).is_some_and(|m| m <= 59)
        }
        _ => false,
    };
    offset_ok.then(|| text.to_ascii_uppercase())
}

/// Digits only, as a number.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_rfc_3339_in_canonical_utc_out() {
        assert_eq!(date("2026-02-28").as_deref(), Some("2026-02-28"));
        assert_eq!(
            instant("2026-11-26T10:00:00.5+01:00").as_deref(),
            Some("2026-11-26T10:00:00.5+01:00")
        );
        assert_eq!(date("2024-02-29").as_deref(), Some("2024-02-29"));
        assert_eq!(
            instant("2026-11-26t10:00:00z").as_deref(),
            Some("2026-11-26T10:00:00Z")
        );
        for bad in [
            "2026-02-29",
            "20260228",
            "2026-13-01",
            "2026-11-26T10:00:00",
            "2026-11-26T25:00:00Z",
            "2026-11-26T10:00:00.Z",
            "2026-11-26T10:00:00Z[Europe/Paris]",
            "2026-11-26 10:00:00Z",
            "2026-W48-4T10:00:00Z",
            "yesterday",
            "1900-02-29",
            "2026-11-26T10:00:00+24:00",
            "2026-11-26T10:00:00+0100",
            "2026-11-26T10:00:00Z ",
        ] {
            assert!(date(bad).is_none() && instant(bad).is_none(), "{bad}");
        }
    }
}
