//! Read-your-writes across a read replica: the token a write's answer
//! carries, and reading it back from the next request.
//!
//! The token is the primary's WAL position once the write was done
//! (PostgreSQL's `pg_lsn` text, e.g. `0/16B3740`). It travels both ways as
//! a cookie, so browsers and the map page need nothing, and as a header,
//! for API clients that keep no cookies. It names a position, nothing
//! secret: a client that forges a later one only sends its own reads to
//! the primary.

use std::time::Duration;

use axum::response::Response;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use tokio_postgres::types::PgLsn;

/// Cookie carrying the token.
pub const COOKIE_NAME: &str = "geofn_read_after";
/// Header carrying the token, in answers and in requests.
pub const HEADER_NAME: &str = "geofn-read-after";

/// A token the request sent that is not a WAL position.
#[derive(Debug, thiserror::Error)]
#[error(
    "the {HEADER_NAME} header must be a WAL position like 0/16B3740, as a write's answer gave it"
)]
pub struct BadToken;

/// The token a request presents: the header's, else the cookie's. A
/// malformed header is the client's mistake (400); a malformed cookie is
/// ignored, as a browser may keep one from elsewhere.
pub fn presented(headers: &HeaderMap) -> Result<Option<PgLsn>, BadToken> {
    if let Some(value) = headers.get(HEADER_NAME) {
        let text = value.to_str().map_err(|_| BadToken)?;
        return parse(text.trim()).map(Some).ok_or(BadToken);
    }
    let from_cookie = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE_NAME)
        .filter_map(|(_, value)| parse(value))
        .max();
    Ok(from_cookie)
}

/// Puts `written_at` on `response` as header and cookie. The cookie lives
/// as long as the token can matter: once the replica is within `max_lag`
/// it has replayed any write older than that.
pub fn attach(response: &mut Response, written_at: PgLsn, max_lag: Duration) {
    let token = written_at.to_string();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&token) {
        headers.insert(HEADER_NAME, value);
    }
    let max_age = max_lag.as_secs() + 1;
    let cookie =
        format!("{COOKIE_NAME}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, value);
    }
}

/// `pg_lsn` text: two hexadecimal numbers of at most 8 digits each.
fn parse(text: &str) -> Option<PgLsn> {
    let (high, low) = text.split_once('/')?;
    let hex =
        |part: &str| (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_hexdigit());
    if !(hex(high) && hex(low)) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn a_token_round_trips_through_header_and_cookie() {
        let mut response = Response::new(axum::body::Body::empty());
        let lsn: PgLsn = "1A/2B3C4D".parse().unwrap();
        attach(&mut response, lsn, Duration::from_secs(5));
        let header = response.headers()[HEADER_NAME].to_str().unwrap();
        assert_eq!(header, "1A/2B3C4D");
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
        assert!(
            cookie.starts_with("geofn_read_after=1A/2B3C4D;"),
            "{cookie}"
        );
        assert!(cookie.contains("Max-Age=6"), "{cookie}");

        let sent = headers(&[(HEADER_NAME, header)]);
        assert_eq!(presented(&sent).unwrap(), Some(lsn));
        let sent = headers(&[("cookie", "a=b; geofn_read_after=1A/2B3C4D; c=d")]);
        assert_eq!(presented(&sent).unwrap(), Some(lsn));
    }

    #[test]
    fn a_malformed_header_is_refused_and_a_malformed_cookie_ignored() {
        for bad in ["", "16B3740", "0/", "x/1", "123456789/0", "0/1/2"] {
            assert!(presented(&headers(&[(HEADER_NAME, bad)])).is_err(), "{bad}");
            let cookie = format!("geofn_read_after={bad}");
            assert_eq!(presented(&headers(&[("cookie", &cookie)])).unwrap(), None);
        }
        assert_eq!(presented(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn of_several_cookies_the_latest_position_counts() {
        let sent = headers(&[
            ("cookie", "geofn_read_after=0/10"),
            ("cookie", "geofn_read_after=0/20"),
        ]);
        assert_eq!(presented(&sent).unwrap(), Some(PgLsn::from(0x20)));
    }
}
