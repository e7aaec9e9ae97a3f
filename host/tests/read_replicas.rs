//! Reads on a streaming replica (`pg_basebackup -R` of the test's own
//! primary, on loopback): GETs are served there, a client reads its own
//! writes even while the replica lags, a replica too far behind or gone
//! sends reads to the primary with no failed request, and one that is back
//! is used again.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::load::{Load, assert_no_acknowledged_write_lost};
use support::metrics::{scrape, value};
use support::{Host, TestDb, client, shipped_handlers};

/// The host over `primary`, reading from `standby`.
async fn serve(primary: &TestDb, standby: &TestDb, max_lag_ms: &str) -> Host {
    Host::serve(
        primary,
        &shipped_handlers(),
        &[
            "--database-read-url",
            &standby.cluster.url(),
            "--read-max-lag-ms",
            max_lag_ms,
        ],
    )
    .await
}

async fn metric(host: &Host, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(&scrape(host).await, name, labels)
}

async fn replica_reads(host: &Host) -> f64 {
    metric(host, "geofn_db_reads_total", &[("target", "replica")]).await
}

/// Waits until a GET of `path` is served by the replica (the host sees it
/// up, and it has the handlers' roles and tables).
async fn until_replica_serves(host: &Host, path: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let before = replica_reads(host).await;
        let status = client().get(host.url(path)).send().await.unwrap().status();
        assert_eq!(status, StatusCode::OK);
        if replica_reads(host).await > before {
            return;
        }
        if Instant::now() >= until {
            let metrics = support::metrics::text(host).await;
            let reads: Vec<&str> = metrics
                .lines()
                .filter(|l| l.starts_with("geofn_db_read") || l.starts_with("geofn_db_replica"))
                .collect();
            panic!(
                "the replica never served {path}\n{}\n{}",
                reads.join("\n"),
                host.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates a point; its id and the read-your-writes token of the answer.
async fn create(host: &Host, name: &str) -> (i64, String) {
    let response = client()
        .post(host.url("/point"))
        .json(&json!({"name": name, "longitude": 2.35, "latitude": 48.85}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let token = response.headers()["geofn-read-after"]
        .to_str()
        .unwrap()
        .to_owned();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with(&format!("geofn_read_after={token};")),
        "{cookie}"
    );
    let created: Value = response.json().await.unwrap();
    (created["id"].as_i64().unwrap(), token)
}

async fn get_point(host: &Host, id: i64, extra: Option<(&str, String)>) -> StatusCode {
    let mut request = client().get(host.url(&format!("/points/{id}")));
    if let Some((name, value)) = extra {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status()
}

/// Transactions the replica's server has run (its own statistics).
async fn replica_transactions(standby: &TestDb) -> i64 {
    standby
        .client()
        .await
        .query_one(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database \
             WHERE datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn gets_are_served_by_the_replica_and_writes_by_the_primary() {
    let primary = TestDb::start();
    let standby = primary.standby(&[]);
    let host = serve(&primary, &standby, "5000").await;
    until_replica_serves(&host, "/points?limit=10").await;
    let (id, _) = create(&host, "written").await;

    let on_replica = replica_transactions(&standby).await;
    let read_on_replica = replica_reads(&host).await;
    for _ in 0..40 {
        let response = client()
            .get(host.url("/points?limit=10"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            !response.headers().contains_key("set-cookie"),
            "a read carries no token"
        );
    }
    // The replica's own statistics saw the reads, not only our counters
    // (a server publishes its statistics up to a few seconds late).
    let until = Instant::now() + Duration::from_secs(20);
    while replica_transactions(&standby).await - on_replica < 40 {
        assert!(
            Instant::now() < until,
            "the replica's statistics show no reads"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(replica_reads(&host).await - read_on_replica >= 40.0);
    assert_eq!(metric(&host, "geofn_db_replica_up", &[]).await, 1.0);

    // The write reached the replica, which serves it.
    let until = Instant::now() + Duration::from_secs(10);
    while get_point(&host, id, None).await != StatusCode::OK {
        assert!(Instant::now() < until, "the replica never had the write");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A token that is not a WAL position is the client's mistake.
    let response = client()
        .get(host.url("/points?limit=1"))
        .header("geofn-read-after", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("geofn-read-after"),
        "{problem}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_reads_its_own_writes_while_the_replica_lags() {
    let primary = TestDb::start();
    // The replica applies each commit 4 s late.
    let standby = primary.standby(&[("recovery_min_apply_delay", "4s")]);
    let host = serve(&primary, &standby, "60000").await;
    until_replica_serves(&host, "/points?limit=10").await;

    let (id, token) = create(&host, "mine").await;
    let behind = metric(
        &host,
        "geofn_db_read_fallbacks_total",
        &[("reason", "behind-token")],
    )
    .await;
    // Without the token: the replica, which does not have it yet.
    assert_eq!(get_point(&host, id, None).await, StatusCode::NOT_FOUND);
    // With it, as a header or as the cookie: the primary, which does.
    assert_eq!(
        get_point(&host, id, Some(("geofn-read-after", token.clone()))).await,
        StatusCode::OK
    );
    assert_eq!(
        get_point(
            &host,
            id,
            Some(("cookie", format!("geofn_read_after={token}")))
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        metric(
            &host,
            "geofn_db_read_fallbacks_total",
            &[("reason", "behind-token")]
        )
        .await
            - behind,
        2.0
    );

    // Once the replica has replayed the write, the token reads there.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let before = replica_reads(&host).await;
    assert_eq!(
        get_point(&host, id, Some(("geofn-read-after", token))).await,
        StatusCode::OK
    );
    assert_eq!(replica_reads(&host).await - before, 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_behind_by_more_than_the_bound_is_left_until_it_catches_up() {
    let primary = TestDb::start();
    let standby = primary.standby(&[("recovery_min_apply_delay", "3s")]);
    let host = serve(&primary, &standby, "1000").await;
    until_replica_serves(&host, "/points?limit=10").await;

    let (id, _) = create(&host, "fresh").await;
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let lagging = metric(
        &host,
        "geofn_db_read_fallbacks_total",
        &[("reason", "lagging")],
    )
    .await;
    // No token, yet the write is seen: the replica is too far behind to
    // serve, so the primary does.
    assert_eq!(get_point(&host, id, None).await, StatusCode::OK);
    assert!(metric(&host, "geofn_db_replica_lag_seconds", &[]).await > 1.0);
    assert_eq!(
        metric(
            &host,
            "geofn_db_read_fallbacks_total",
            &[("reason", "lagging")]
        )
        .await
            - lagging,
        1.0
    );
    // Caught up, it serves reads again.
    until_replica_serves(&host, &format!("/points/{id}")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_stopped_under_load_fails_no_request_and_serves_again_once_back() {
    let primary = TestDb::start();
    let mut standby = primary.standby(&[]);
    let host = serve(&primary, &standby, "5000").await;
    until_replica_serves(&host, "/points?limit=10").await;

    let load = Load::start(&host.base, "/points?limit=10", 3, 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    standby.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(metric(&host, "geofn_db_replica_up", &[]).await, 0.0);
    let reads_while_down = replica_reads(&host).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        replica_reads(&host).await,
        reads_while_down,
        "reads went to a stopped replica"
    );
    standby.restart();
    let until = Instant::now() + Duration::from_secs(30);
    while replica_reads(&host).await <= reads_while_down {
        assert!(
            Instant::now() < until,
            "the replica was not used again\n{}",
            host.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tally = load.finish().await;
    tally.assert_no_failure("replica stopped and back", "");
    assert!(
        metric(
            &host,
            "geofn_db_read_fallbacks_total",
            &[("reason", "unavailable")]
        )
        .await
            > 0.0
    );
    assert_no_acknowledged_write_lost(&primary, &tally).await;
}
