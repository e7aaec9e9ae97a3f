//! The {{name}} handler: GeoJSON point features in a table of its own.
//! `POST /{{name}}` stores a Feature, `GET /{{name}}/{id}` answers it,
//! `GET /{{name}}?bbox=minLon,minLat,maxLon,maxLat` the ones in a box.

use geofn_guest::geometry::{Bbox, LonLat};
use geofn_guest::http::{GEOJSON, with_content_type};
use geofn_guest::prelude::*;
use geofn_guest::sql;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

/// A stored row as a GeoJSON Feature, built by PostGIS.
const FEATURE: &str = "json_build_object('type', 'Feature', 'id', id, \
    'geometry', ST_AsGeoJSON(geom)::json, 'properties', properties) AS feature";

/// A GeoJSON Feature with a Point geometry, as clients send it.
#[derive(Deserialize)]
struct Feature {
    r#type: String,
    geometry: Point,
    #[serde(default)]
    properties: Map<String, Json>,
}

#[derive(Deserialize)]
struct Point {
    r#type: String,
    coordinates: Vec<f64>,
}

fn create(ctx: &Ctx) -> Result<Response> {
    let feature: Feature = ctx.json()?;
    let at = match (&*feature.r#type, &*feature.geometry.r#type, &feature.geometry.coordinates[..]) {
        ("Feature", "Point", &[lon, lat]) => LonLat::new(lon, lat),
        _ => return Err(Error::bad_parameter("geometry", "a Feature with a Point [lon, lat]")),
    }
    .map_err(|e| Error::bad_parameter("geometry", e.to_string()))?;
    let mut properties = feature.properties;
    // The caller the host verified from a bearer token, if any.
    if let Some(owner) = ctx.identity().and_then(|caller| caller.subject) {
        properties.insert("owner".into(), Json::String(owner));
    }
    let rows = sql::query(
        &format!("INSERT INTO {{table}} (properties, geom) VALUES ($1, ST_SetSRID(ST_MakePoint($2, $3), 4326)) RETURNING id, {FEATURE}"),
        &[Value::Json(Json::Object(properties).to_string()), at.lon.into(), at.lat.into()],
    )?;
    let row = rows.first().ok_or_else(|| Error::new(500, "internal", "Internal error", "nothing stored"))?;
    let id: i64 = row.get("id")?;
    Ok(with_content_type(201, GEOJSON, &row.get::<Json>("feature")?).with_header("location", format!("/{{name}}/{id}")))
}

fn get_one(ctx: &Ctx) -> Result<Response> {
    let id: i64 = ctx.param("id")?;
    let rows = sql::query(&format!("SELECT {FEATURE} FROM {{table}} WHERE id = $1"), &[id.into()])?;
    let row = rows.first().ok_or_else(|| Error::not_found(format!("there is no feature {id}")))?;
    Ok(with_content_type(200, GEOJSON, &row.get::<Json>("feature")?))
}

fn in_box(ctx: &Ctx) -> Result<Response> {
    let b: Bbox = ctx.query("bbox")?.unwrap_or("-180,-90,180,90".parse().expect("the world"));
    // A variable of the manifest's: the operator may lower or raise it.
    let max: i64 = geofn_guest::config::parsed("max_features")?;
    let rows = sql::query(
        &format!("SELECT {FEATURE} FROM {{table}} WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, 4326) ORDER BY id LIMIT $5"),
        &[b.min.lon.into(), b.min.lat.into(), b.max.lon.into(), b.max.lat.into(), max.into()],
    )?;
    let features = rows.iter().map(|row| row.get::<Json>("feature")).collect::<Result<Vec<_>>>()?;
    Ok(with_content_type(200, GEOJSON, &json!({ "type": "FeatureCollection", "features": features })))
}

struct Handler;

impl Guest for Handler {
    fn handle(request: Request) -> Response {
        Router::new()
            .post("/{{name}}", create)
            .get("/{{name}}/{id}", get_one)
            .get("/{{name}}", in_box)
            .handle(request)
    }
}

geofn_guest::export_handler!(Handler);
geofn_guest::handler_manifest!(include_str!("../geofn-handler.toml"));
// Its routes in the service's OpenAPI document (`GET /api` on the host).
geofn_guest::handler_openapi!(include_str!("../openapi.json"));
