//! Many requests at once to a host with a bound (a pool share, the memory
//! budget), and the tally of what it served and what it refused.

use std::sync::Arc;

use reqwest::StatusCode;
use tokio::task::JoinHandle;

use super::{Host, client};

/// `n` requests to `path` at once; each yields its status and whether it
/// carried `Retry-After`.
pub fn flood(host: &Arc<Host>, path: &str, n: usize) -> Vec<JoinHandle<(StatusCode, bool)>> {
    (0..n)
        .map(|_| {
            let url = host.url(path);
            tokio::spawn(async move {
                let response = client().get(url).send().await.unwrap();
                (
                    response.status(),
                    response.headers().contains_key("retry-after"),
                )
            })
        })
        .collect()
}

/// How many of `requests` were served, and how many refused with a 503
/// and `Retry-After`; anything else fails the test.
pub async fn tally(requests: Vec<JoinHandle<(StatusCode, bool)>>) -> (usize, usize) {
    let (mut ok, mut refused) = (0, 0);
    for request in requests {
        match request.await.unwrap() {
            (StatusCode::OK, _) => ok += 1,
            (StatusCode::SERVICE_UNAVAILABLE, true) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    (ok, refused)
}
