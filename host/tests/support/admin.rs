//! The host's admin API as the tests read it.

use serde_json::Value;

use super::client;

/// `GET /admin/handlers` of the host at `base` (e.g. `http://127.0.0.1:PORT`)
/// with the admin `token`: the handlers it serves, where each comes from,
/// its limits, and the versions stored for the fleet.
pub async fn handlers_report(base: &str, token: &str) -> Value {
    let response = client()
        .get(format!("{base}/admin/handlers"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "GET {base}/admin/handlers: {}",
        response.status()
    );
    response.json().await.unwrap()
}
