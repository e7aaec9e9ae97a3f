//! What a bearer token costs the host per request: the first verification
//! of a token, per algorithm (the signature and the claims), and every
//! later request with the same token (a cache hit: header read, cache
//! lookup, scope check) — against an anonymous request, which costs
//! nothing here.
//!
//! Run with: `cargo bench -p geofn-auth --bench verify`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use geofn_auth::source::KeyLocation;
use geofn_auth::verifier::{AuthSettings, DEFAULT_LEEWAY, DEFAULT_MIN_REFRESH, Verifier};
use geofn_auth::{authorize, refusal::Refusal};
use geofn_contract::auth::Requirement;
use geofn_test_issuer::{SigningKey, claims, jwks};
use jsonwebtoken::Algorithm;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "geofn";

fn verify(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let keys: Vec<SigningKey> = [
        (Algorithm::RS256, "rs"),
        (Algorithm::PS256, "ps"),
        (Algorithm::ES256, "es"),
        (Algorithm::EdDSA, "ed"),
    ]
    .into_iter()
    .map(|(alg, kid)| SigningKey::generate(alg, kid))
    .collect();
    let dir = tempfile_dir();
    let file = dir.join("jwks.json");
    std::fs::write(&file, jwks(&keys.iter().collect::<Vec<_>>())).unwrap();
    let verifier = tokio
        .block_on(Verifier::start(AuthSettings {
            keys: KeyLocation::File(file),
            issuer: Some(ISSUER.into()),
            audience: Some(AUDIENCE.into()),
            leeway: DEFAULT_LEEWAY,
            min_refresh: DEFAULT_MIN_REFRESH,
            admin_scope: None,
        }))
        .unwrap();
    let needs_write = Requirement {
        token: true,
        scopes: vec!["points:write".into()],
    };

    let mut group = c.benchmark_group("first verification");
    for key in &keys {
        // A new token each time (a new `jti`), so nothing comes from the cache.
        let mut n = 0u64;
        group.bench_function(format!("{:?}", key.alg), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    let mut claims = claims("alice", "points:write", ISSUER, AUDIENCE, 3600);
                    claims["jti"] = n.into();
                    format!("Bearer {}", key.sign(&claims))
                },
                |header| tokio.block_on(authorize(Some(&verifier), Some(&header), &needs_write)),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();

    let header = format!(
        "Bearer {}",
        keys[0].sign(&claims("alice", "points:write", ISSUER, AUDIENCE, 3600))
    );
    tokio
        .block_on(authorize(Some(&verifier), Some(&header), &needs_write))
        .unwrap();
    let mut group = c.benchmark_group("per request");
    group.bench_function("the same token again (cached)", |b| {
        b.iter(|| {
            tokio.block_on(authorize(
                Some(&verifier),
                Some(black_box(&header)),
                &needs_write,
            ))
        });
    });
    group.bench_function("anonymous", |b| {
        b.iter(|| {
            tokio.block_on(authorize(
                Some(&verifier),
                black_box(None),
                &Requirement::default(),
            ))
        });
    });
    group.bench_function("refused: no token", |b| {
        b.iter(|| {
            let refused = tokio.block_on(authorize(Some(&verifier), black_box(None), &needs_write));
            assert_eq!(refused, Err(Refusal::Missing));
        });
    });
    group.finish();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("geofn-auth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

criterion_group!(benches, verify);
criterion_main!(benches);
