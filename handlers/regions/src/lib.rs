//! Regions (polygons) and the points inside them, on the guest SDK alone.
//! Routes and table: `geofn-handler.toml`, embedded in the component with
//! its part of the service's OpenAPI document (`openapi.json`).

use geofn_guest::db::DbError;
use geofn_guest::geometry::LonLat;
use geofn_guest::http::{self, GEOJSON, with_content_type};
use geofn_guest::prelude::*;
use geofn_guest::sql;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

/// A stored region as a GeoJSON Feature, built by PostGIS; its `owner`
/// (the subject who posted it, when the caller had a verified token) is
/// among its properties.
const FEATURE: &str = "json_build_object('type', 'Feature', 'id', id, \
     'geometry', ST_AsGeoJSON(geom)::json, \
     'properties', properties || jsonb_strip_nulls(jsonb_build_object('owner', owner))) AS feature";
/// `limit` of region listings: default and most.
const REGIONS: (i64, i64) = (100, 1000);
/// `limit` of the points of a region: as the points API's.
const POINTS: (i64, i64) = (100, 10_000);

/// A GeoJSON Feature as clients send it; its geometry is left to PostGIS.
#[derive(Deserialize)]
struct Feature {
    r#type: String,
    geometry: Json,
    #[serde(default)]
    properties: Map<String, Json>,
}

/// Whether a key or a string anywhere in `value` holds U+0000: `jsonb`
/// refuses it, so it is the caller's bad input, not a database failure.
fn holds_nul(value: &Json) -> bool {
    match value {
        Json::String(text) => text.contains('\0'),
        Json::Array(items) => items.iter().any(holds_nul),
        Json::Object(map) => map
            .iter()
            .any(|(key, item)| key.contains('\0') || holds_nul(item)),
        _ => false,
    }
}

fn create(ctx: &Ctx) -> Result<Response> {
    let feature: Feature = ctx.json()?;
    if feature.r#type != "Feature" {
        return Err(Error::bad_parameter(
            "type",
            "the body must be a GeoJSON Feature",
        ));
    }
    let private = match feature.properties.get("private") {
        None | Some(Json::Bool(false)) => false,
        Some(Json::Bool(true)) => true,
        Some(_) => {
            return Err(Error::bad_parameter(
                "private",
                "properties.private is true or false",
            ));
        }
    };
    // PostgreSQL refuses it anyway (row-level security): say why first.
    if private && ctx.identity().and_then(|caller| caller.subject).is_none() {
        return Err(Error::new(
            401,
            "unauthorized",
            "Unauthorized",
            "a private region has an owner: post it with a bearer token",
        ));
    }
    let properties = Json::Object(feature.properties);
    if holds_nul(&properties) {
        return Err(Error::bad_parameter(
            "properties",
            "properties must not contain NUL characters (U+0000), which PostgreSQL cannot store",
        ));
    }
    let geometry = feature.geometry.to_string();
    // PostGIS judges the geometry: its parser, its type, its validity.
    let rows: Rows = geofn_guest::db::query(
        "SELECT GeometryType(g) AS kind, ST_IsValidReason(g) AS reason \
         FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g) AS given",
        &[geometry.clone().into()],
    )
    .map_err(|err| match err {
        DbError::QueryFailed(failure) => {
            Error::bad_parameter("geometry", format!("invalid geometry: {}", failure.message))
        }
        other => other.into(),
    })?
    .into();
    let row = rows
        .first()
        .ok_or_else(|| Error::bad_parameter("geometry", "not a GeoJSON geometry"))?;
    let kind: String = row.get("kind")?;
    if !matches!(kind.as_str(), "POLYGON" | "MULTIPOLYGON") {
        return Err(Error::bad_parameter(
            "geometry",
            format!("a region is a Polygon or MultiPolygon, not a {kind}"),
        ));
    }
    let reason: String = row.get("reason")?;
    if reason != "Valid Geometry" {
        return Err(Error::bad_parameter(
            "geometry",
            format!("invalid geometry: {reason}"),
        ));
    }
    let rows = sql::query(
        &format!(
            "INSERT INTO regions (properties, geom, private) \
             VALUES ($1, ST_SetSRID(ST_GeomFromGeoJSON($2), 4326), $3) RETURNING id, {FEATURE}"
        ),
        &[
            Value::Json(properties.to_string()),
            geometry.into(),
            Value::Boolean(private),
        ],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| Error::new(500, "internal", "Internal error", "nothing stored"))?;
    let id: i64 = row.get("id")?;
    Ok(
        with_content_type(201, GEOJSON, &row.get::<Json>("feature")?)
            .with_header("location", format!("/regions/{id}")),
    )
}

fn get_one(ctx: &Ctx) -> Result<Response> {
    let id: i64 = ctx.param("id")?;
    let rows = sql::query(
        &format!("SELECT {FEATURE} FROM regions WHERE id = $1"),
        &[id.into()],
    )?;
    let row = rows.first().ok_or_else(|| no_such_region(id))?;
    Ok(with_content_type(
        200,
        GEOJSON,
        &row.get::<Json>("feature")?,
    ))
}

fn list(ctx: &Ctx) -> Result<Response> {
    let limit = limit(ctx, REGIONS)?;
    let rows = match ctx.query::<LonLat>("contains")? {
        Some(at) => sql::query(
            &format!(
                "SELECT {FEATURE} FROM regions \
                 WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) ORDER BY id LIMIT $3"
            ),
            &[at.lon.into(), at.lat.into(), limit.into()],
        )?,
        None => sql::query(
            &format!("SELECT {FEATURE} FROM regions ORDER BY id LIMIT $1"),
            &[limit.into()],
        )?,
    };
    let features = rows
        .iter()
        .map(|row| row.get::<Json>("feature"))
        .collect::<Result<Vec<_>>>()?;
    Ok(with_content_type(
        200,
        GEOJSON,
        &json!({ "type": "FeatureCollection", "features": features }),
    ))
}

fn points_inside(ctx: &Ctx) -> Result<Response> {
    let id: i64 = ctx.param("id")?;
    let limit = limit(ctx, POINTS)?;
    let before: Option<i64> = ctx.query("cursor")?;
    if sql::query("SELECT 1 AS found FROM regions WHERE id = $1", &[id.into()])?.is_empty() {
        return Err(no_such_region(id));
    }
    // One more than asked, to know whether there is a next page.
    let rows = sql::query(
        "SELECT p.id, p.name, ST_X(p.geom) AS longitude, ST_Y(p.geom) AS latitude \
         FROM regions r JOIN points p ON ST_Contains(r.geom, p.geom) \
         WHERE r.id = $1 AND ($2::bigint IS NULL OR p.id < $2) ORDER BY p.id DESC LIMIT $3",
        &[id.into(), before.into(), (limit + 1).into()],
    )?;
    let mut points = Vec::with_capacity(rows.len());
    for row in rows.iter().take(limit as usize) {
        points.push(json!({
            "id": row.get::<i64>("id")?,
            "name": row.get::<String>("name")?,
            "longitude": row.get::<f64>("longitude")?,
            "latitude": row.get::<f64>("latitude")?,
        }));
    }
    let response = http::json(200, &points);
    Ok(match (rows.len() as i64 > limit, points.last()) {
        (true, Some(last)) => response.with_header(
            "link",
            format!(
                "</regions/{id}/points?limit={limit}&cursor={}>; rel=\"next\"",
                last["id"]
            ),
        ),
        _ => response,
    })
}

/// The `limit` parameter: `default` when absent, 1 to `max`.
fn limit(ctx: &Ctx, (default, max): (i64, i64)) -> Result<i64> {
    match ctx.query::<i64>("limit")? {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(Error::bad_parameter(
            "limit",
            format!("limit must be from 1 to {max}, got {n}"),
        )),
    }
}

fn no_such_region(id: i64) -> Error {
    Error::not_found(format!("there is no region {id}"))
}

struct Regions;

impl Guest for Regions {
    fn handle(request: Request) -> Response {
        Router::new()
            .post("/regions", create)
            .get("/regions", list)
            .get("/regions/{id}", get_one)
            .get("/regions/{id}/points", points_inside)
            .handle(request)
    }
}

geofn_guest::export_handler!(Regions);
geofn_guest::handler_manifest!(include_str!("../geofn-handler.toml"));
geofn_guest::handler_openapi!(include_str!("../openapi.json"));
