//! HTTP against a host: a client that never redirects, JSON helpers, and
//! requests written straight onto a socket.

use std::time::Duration;

/// The version the probe at `base` says it is (`GET /probe/version`),
/// if it answers.
pub async fn probe_version(base: &str) -> Option<String> {
    let body: serde_json::Value = client()
        .get(format!("{base}/probe/version"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["version"].as_str().map(str::to_owned)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client that never follows redirects or retries.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `GET url`: its status and its body as JSON (`null` when it is not).
pub async fn get_status_json(url: &str) -> (reqwest::StatusCode, serde_json::Value) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// What the host answers to a request whose head announces `length` body
/// bytes that never follow: the status and the `Content-Type`.
///
/// A limit must be enforced from `Content-Length` alone. Sending the body
/// too would race the host's early 413 against the client's write (the host
/// closes the connection, the client's write fails with a broken pipe), so
/// the answer is read straight off a raw socket.
pub async fn status_for_announced_body(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    length: usize,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {length}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("no answer to an announced body")
            .unwrap();
        assert!(n > 0, "connection closed before an answer");
        answer.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    let content_type = text
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type)
}

/// The JSON body of `GET url`, for checks that only look at the body.
pub async fn get_json<T: serde::de::DeserializeOwned>(url: impl reqwest::IntoUrl) -> T {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// What a POST answered: the status, the `Location` of what it created,
/// and the JSON body (`Null` when there is none).
pub struct Posted {
    pub status: reqwest::StatusCode,
    pub location: Option<String>,
    pub body: serde_json::Value,
}

/// `POST url` with a JSON `body` given as text (so tests can send broken JSON).
pub async fn post_json_text(url: impl reqwest::IntoUrl, body: String) -> Posted {
    let response = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    Posted {
        status,
        location,
        body: response.json().await.unwrap_or_default(),
    }
}

/// A CQL2 text filter as a GIS client writes one for a drawn area: points
/// inside a circle around Paris with `corners` corners. Long (about 20
/// bytes a corner once in a URL) and valid, for tests of request bounds.
pub fn circle_filter(corners: u32) -> String {
    let ring: Vec<String> = (0..=corners)
        .map(|i| {
            let t = f64::from(i % corners) * std::f64::consts::TAU / f64::from(corners);
            format!("{:.5} {:.5}", 2.35 + 0.5 * t.cos(), 48.85 + 0.5 * t.sin())
        })
        .collect();
    format!("S_INTERSECTS(geometry, POLYGON(({})))", ring.join(", "))
}
