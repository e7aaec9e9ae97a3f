//! Answers compressed when the client asks, the way it asks, and only
//! when it pays.

mod support;

use std::io::Read;

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, VARY};
use support::{Host, TestDb, client, shipped_handlers};

async fn with_points(n: i64) -> (TestDb, Host) {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    db.client()
        .await
        .execute(
            "INSERT INTO points (name, geom) SELECT 'point ' || g, \
             ST_SetSRID(ST_MakePoint(g % 360 - 180, g % 170 - 85), 4326) \
             FROM generate_series(1, $1::int8) AS g",
            &[&n],
        )
        .await
        .unwrap();
    (db, host)
}

async fn fetch(url: &str, accept: Option<&str>) -> (Option<String>, Vec<u8>) {
    let mut request = client().get(url);
    if let Some(accept) = accept {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    let answer = request.send().await.unwrap();
    assert!(answer.status().is_success(), "{url}: {}", answer.status());
    let encoding = answer
        .headers()
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_owned());
    if encoding.is_some() {
        let vary = answer.headers().get(VARY).unwrap().to_str().unwrap();
        assert!(
            vary.to_ascii_lowercase().contains("accept-encoding"),
            "{vary}"
        );
    }
    (encoding, answer.bytes().await.unwrap().to_vec())
}

fn decode(encoding: &str, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(raw)
            .read_to_end(&mut out)
            .unwrap(),
        "br" => brotli::Decompressor::new(raw, 4096)
            .read_to_end(&mut out)
            .unwrap(),
        "zstd" => return zstd::decode_all(raw).unwrap(),
        other => panic!("unexpected encoding {other}"),
    };
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_come_in_the_encoding_the_client_prefers() {
    let (_db, host) = with_points(300).await;
    for path in ["/points?limit=300", "/collections/points/items/1"] {
        let url = host.url(path);
        let (encoding, plain) = fetch(&url, None).await;
        assert_eq!(encoding, None, "{path}: not asked, not compressed");
        for accept in ["gzip", "br", "zstd"] {
            let (encoding, raw) = fetch(&url, Some(accept)).await;
            if plain.len() < 1024 {
                assert_eq!(
                    encoding,
                    None,
                    "{path}: {} bytes are sent as they are",
                    plain.len()
                );
                continue;
            }
            assert_eq!(encoding.as_deref(), Some(accept), "{path}");
            assert!(
                raw.len() * 3 < plain.len(),
                "{path} {accept}: {} of {} bytes",
                raw.len(),
                plain.len()
            );
            assert_eq!(decode(accept, &raw), plain, "{path} {accept}");
        }
    }
    let url = host.url("/points?limit=300");
    let (encoding, _) = fetch(&url, Some("gzip;q=0.5, br;q=0.8, zstd;q=0.1")).await;
    assert_eq!(
        encoding.as_deref(),
        Some("br"),
        "the client's weights decide"
    );
    let (encoding, _) = fetch(&url, Some("identity")).await;
    assert_eq!(encoding, None);
}
