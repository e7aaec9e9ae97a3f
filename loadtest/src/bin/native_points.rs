//! The points API written natively in Rust (axum + deadpool-postgres), with
//! the same SQL, the same EWKB geometries through the `postgis` crate and
//! the same pool settings as the geofn host: the baseline that says what
//! the WebAssembly layer costs.
//!
//! Run with: `DATABASE_URL=postgresql://... native-points --listen 127.0.0.1:5100`

use std::str::FromStr;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use postgis::ewkb::{self, AsEwkbPoint, EwkbWrite};
use serde::{Deserialize, Serialize};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// Same as the geofn host's default pool size.
const POOL_SIZE: usize = 16;
const INSERT: &str =
    "INSERT INTO points.points (name, geom) VALUES ($1, $2) RETURNING id, name, geom";
const NEWEST: &str = "SELECT id, name, geom FROM points.points ORDER BY id DESC LIMIT $1";

#[derive(Serialize)]
struct Point {
    id: i64,
    name: String,
    longitude: f64,
    latitude: f64,
}

#[derive(Deserialize)]
struct NewPoint {
    longitude: f64,
    latitude: f64,
    name: String,
}

#[derive(Deserialize)]
struct Listing {
    limit: Option<i64>,
}

/// EWKB bytes bound to a geometry parameter, as the host binds them.
#[derive(Debug)]
struct Ewkb(Vec<u8>);

impl ToSql for Ewkb {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        ty.name() == "geometry"
    }
    to_sql_checked!();
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({"type": "urn:geofn:problem:invalid", "title": "Bad request",
        "status": status.as_u16(), "detail": detail});
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn from_row(row: &tokio_postgres::Row) -> Point {
    let geometry: ewkb::Point = row.get(2);
    Point {
        id: row.get(0),
        name: row.get(1),
        longitude: geometry.x,
        latitude: geometry.y,
    }
}

async fn list(State(pool): State<Pool>, Query(listing): Query<Listing>) -> Response {
    let limit = listing.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return problem(StatusCode::BAD_REQUEST, "limit must be from 1 to 10000");
    }
    let Ok(client) = pool.get().await else {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
    };
    let result = async {
        let statement = client.prepare_cached(NEWEST).await?;
        client.query(&statement, &[&(limit + 1)]).await
    }
    .await;
    match result {
        Ok(rows) => Json(
            rows.iter()
                .take(limit as usize)
                .map(from_row)
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "database error"),
    }
}

async fn create(State(pool): State<Pool>, body: axum::body::Bytes) -> Response {
    let Ok(point) = serde_json::from_slice::<NewPoint>(&body) else {
        return problem(StatusCode::BAD_REQUEST, "malformed point");
    };
    let chars = point.name.chars().count();
    if !(-180.0..=180.0).contains(&point.longitude)
        || !(-90.0..=90.0).contains(&point.latitude)
        || point.name.trim().is_empty()
        || chars > 100
        || point.name.contains('\0')
    {
        return problem(StatusCode::BAD_REQUEST, "invalid point");
    }
    let mut ewkb = Vec::with_capacity(25);
    let _ = ewkb::Point::new(point.longitude, point.latitude, Some(4326))
        .as_ewkb()
        .write_ewkb(&mut ewkb);
    let Ok(client) = pool.get().await else {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
    };
    let result = async {
        let statement = client.prepare_cached(INSERT).await?;
        client
            .query_one(&statement, &[&point.name, &Ewkb(ewkb)])
            .await
    }
    .await;
    match result {
        Ok(row) => {
            let stored = from_row(&row);
            let location = format!("/points/{}", stored.id);
            (
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(stored),
            )
                .into_response()
        }
        Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "database error"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = match (args.next().as_deref(), args.next()) {
        (Some("--listen"), Some(address)) => address,
        _ => "127.0.0.1:5100".to_owned(),
    };
    let url = std::env::var("DATABASE_URL")?;
    let mut config = tokio_postgres::Config::from_str(&url)?;
    config
        .application_name("native-points")
        .options("-c jit=off");
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager).max_size(POOL_SIZE).build()?;
    drop(pool.get().await?);
    let app = Router::new()
        .route("/points", get(list))
        .route("/point", post(create))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "native-points listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
