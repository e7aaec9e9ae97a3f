//! GeoJSON features imported from other services, on the guest SDK alone:
//! a feed is a URL; pulling it replaces the feed's stored features with
//! the FeatureCollection it answers (upserted by `id`, the missing ones
//! deleted) in one transaction; a schedule pulls the stale ones.
//! Routes, table, variables and schedule: `geofn-handler.toml`; its part
//! of the service's OpenAPI document: `openapi.json`.

use std::time::Duration;

use geofn_guest::http::{GEOJSON, with_content_type};
use geofn_guest::outbound::{OutboundError, Request as Call};
use geofn_guest::prelude::*;
use geofn_guest::{config, sql, tx};
use serde::Deserialize;
use serde_json::{Value as Json, json};

/// A feed's registration, as clients send it.
#[derive(Deserialize)]
struct Registration {
    url: String,
}

/// The feed's name from the path: what a table key and a log line can hold.
fn feed_name(ctx: &Ctx) -> Result<String> {
    let name: String = ctx.param("name")?;
    let valid = (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(Error::bad_parameter(
            "name",
            "a feed's name is 1-63 characters of a-z, 0-9, - and _",
        ));
    }
    Ok(name)
}

/// `PUT /feeds/{name}`: registers or moves a feed. A URL on a host the
/// handler may not call is refused now, not at the first pull.
fn register(ctx: &Ctx) -> Result<Response> {
    let name = feed_name(ctx)?;
    let registration: Registration = ctx.json()?;
    let url = registration.url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
        return Err(Error::bad_parameter(
            "url",
            "url is an http(s) URL of at most 2048 characters",
        ));
    }
    // A HEAD the host refuses before anything leaves when the origin is
    // not on the list; any other outcome (even down) registers the feed.
    match Call::new("HEAD", url).send() {
        Err(OutboundError::Denied(why)) => {
            return Err(Error::bad_parameter(
                "url",
                format!("this service may not call {url}: {why}"),
            ));
        }
        Err(OutboundError::BadUrl(why)) => return Err(Error::bad_parameter("url", why)),
        _ => {}
    }
    let created = sql::query(
        "INSERT INTO feeds (name, url) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET url = excluded.url
         RETURNING (xmax = 0) AS created",
        &[name.as_str().into(), url.into()],
    )?;
    let created = created
        .first()
        .map(|row| row.get::<bool>("created"))
        .transpose()?
        .unwrap_or(false);
    let feed = describe(&name)?;
    let mut response = geofn_guest::http::json(if created { 201 } else { 200 }, &feed);
    response
        .headers
        .push(("location".into(), format!("/feeds/{name}")));
    Ok(response)
}

/// The feed's row as JSON, or a 404.
fn describe(name: &str) -> Result<Json> {
    let rows = sql::query(
        "SELECT json_build_object('name', name, 'url', url, 'pulled_at', pulled_at,
                'features', features, 'last_error', last_error) AS feed
           FROM feeds WHERE name = $1",
        &[name.into()],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| Error::not_found(format!("there is no feed {name}")))?;
    row.get::<Json>("feed")
}

/// `GET /feeds/{name}`.
fn show(ctx: &Ctx) -> Result<Response> {
    Ok(geofn_guest::http::json(200, &describe(&feed_name(ctx)?)?))
}

/// `POST /feeds/{name}/pull`: pulls it now; the counts, or a 502/504.
fn pull_now(ctx: &Ctx) -> Result<Response> {
    let name = feed_name(ctx)?;
    let feed = describe(&name)?;
    let url = feed["url"].as_str().unwrap_or_default().to_owned();
    let counts = pull(&name, &url)?;
    Ok(geofn_guest::http::json(200, &counts))
}

/// GETs `url` (with the token, when set) and replaces `name`'s features
/// with what it answers, all or nothing. A failure is recorded on the
/// feed, and is the caller's 502 (504 when the upstream was too slow).
fn pull(name: &str, url: &str) -> Result<Json> {
    match fetch_and_store(name, url) {
        Ok(counts) => Ok(counts),
        Err(err) => {
            let detail = err.problem().detail.clone();
            let _ = sql::execute(
                "UPDATE feeds SET last_error = $2 WHERE name = $1",
                &[name.into(), detail.into()],
            );
            Err(err)
        }
    }
}

fn fetch_and_store(name: &str, url: &str) -> Result<Json> {
    let mut call = Call::new("GET", url).header("accept", "application/geo+json, application/json");
    if let Some(token) = config::get("token") {
        call = call.header("authorization", &format!("Bearer {token}"));
    }
    let answer = call.send()?;
    if (300..400).contains(&answer.status) {
        return Err(OutboundError::Unreachable(format!(
            "it redirected to {}; redirects are not followed, register the new URL",
            answer.header("location").unwrap_or("nowhere")
        ))
        .into());
    }
    let answer = answer.error_for_status()?;
    let collection: Json = answer.json()?;
    let ids = check_collection(&collection)?;
    let count = ids.len() as i64;
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    let deleted = tx::transaction(|tx| {
        tx.execute(
            "INSERT INTO feed_items (feed, id, properties, geom)
             SELECT $1, coalesce(f->>'id', ''),
                    coalesce(f->'properties', '{}') - 'id',
                    ST_SetSRID(ST_GeomFromGeoJSON(f->'geometry'), 4326)
               FROM jsonb_array_elements($2::jsonb->'features') AS f
             ON CONFLICT (feed, id) DO UPDATE
                SET properties = excluded.properties, geom = excluded.geom",
            &[name.into(), Value::Json(body.clone())],
        )?;
        let deleted = tx.execute(
            "DELETE FROM feed_items WHERE feed = $1
                AND id NOT IN (SELECT jsonb_array_elements_text($2::jsonb))",
            &[
                name.into(),
                Value::Json(Json::from(ids.clone()).to_string()),
            ],
        )?;
        tx.execute(
            "UPDATE feeds SET pulled_at = now(), features = $2, last_error = NULL WHERE name = $1",
            &[name.into(), count.into()],
        )?;
        Ok(deleted)
    })
    .map_err(|err| {
        // PostGIS refusing a geometry is the upstream's fault.
        if err.problem().status == 500 {
            Error::new(
                502,
                "upstream-failed",
                "Upstream failed",
                "the feed's answer could not be stored (PostGIS refuses one of its geometries)",
            )
        } else {
            err
        }
    })?;
    Ok(json!({ "feed": name, "features": count, "deleted": deleted }))
}

/// The ids of a FeatureCollection whose features all have one (a string
/// or a number) and a geometry object; a 502 otherwise.
fn check_collection(collection: &Json) -> Result<Vec<String>> {
    let invalid = |why: &str| -> Error {
        Error::new(
            502,
            "upstream-failed",
            "Upstream failed",
            format!("the feed's answer is not a usable FeatureCollection: {why}"),
        )
    };
    if collection["type"] != "FeatureCollection" {
        return Err(invalid("its type is not FeatureCollection"));
    }
    let features = collection["features"]
        .as_array()
        .ok_or_else(|| invalid("no features array"))?;
    let mut ids = Vec::with_capacity(features.len());
    for feature in features {
        let id = match &feature["id"] {
            Json::String(id) if !id.is_empty() => id.clone(),
            Json::Number(id) => id.to_string(),
            _ => return Err(invalid("a feature has no id")),
        };
        if !feature["geometry"].is_object() {
            return Err(invalid(&format!("feature {id} has no geometry")));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// `GET /feeds/{name}/items[?bbox=…]`: the stored features.
fn items(ctx: &Ctx) -> Result<Response> {
    let name = feed_name(ctx)?;
    describe(&name)?;
    let bbox: Option<geofn_guest::geometry::Bbox> = ctx.query("bbox")?;
    let (a, b, c, d) = match &bbox {
        Some(b) => (
            Some(b.min.lon),
            Some(b.min.lat),
            Some(b.max.lon),
            Some(b.max.lat),
        ),
        None => (None, None, None, None),
    };
    let number = |n: Option<f64>| n.map_or(Value::Null, Value::from);
    let rows = sql::query(
        "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
                    json_build_object('type', 'Feature', 'id', id,
                        'geometry', ST_AsGeoJSON(geom)::json, 'properties', properties)
                    ORDER BY id), '[]'::json)) AS collection
           FROM feed_items
          WHERE feed = $1
            AND ($2::float8 IS NULL OR geom && ST_MakeEnvelope($2, $3, $4, $5, 4326))",
        &[
            name.as_str().into(),
            number(a),
            number(b),
            number(c),
            number(d),
        ],
    )?;
    let collection = rows
        .first()
        .map(|row| row.get::<Json>("collection"))
        .transpose()?
        .unwrap_or(Json::Null);
    Ok(with_content_type(200, GEOJSON, &collection))
}

/// The schedule's tick: pulls every feed not pulled within `pull_every`;
/// a 502 when any failed (each failure is on its feed).
fn pull_stale(_ctx: &Ctx) -> Result<Response> {
    let every = config::require("pull_every")?;
    let every: Duration = humantime::parse_duration(&every).map_err(|err| {
        Error::new(
            500,
            "misconfigured",
            "Handler misconfigured",
            format!("pull_every {every:?}: {err}"),
        )
    })?;
    let rows = sql::query(
        "SELECT name, url FROM feeds
          WHERE pulled_at IS NULL OR pulled_at <= now() - make_interval(secs => $1)
          ORDER BY name",
        &[every.as_secs_f64().into()],
    )?;
    let mut outcomes = Vec::new();
    let mut failed = 0;
    for row in rows.iter() {
        let name: String = row.get("name")?;
        let url: String = row.get("url")?;
        match pull(&name, &url) {
            Ok(counts) => outcomes.push(counts),
            Err(err) => {
                failed += 1;
                outcomes.push(json!({ "feed": name, "error": err.problem().detail }));
            }
        }
    }
    let status = if failed == 0 { 200 } else { 502 };
    Ok(geofn_guest::http::json(
        status,
        &json!({ "pulled": outcomes }),
    ))
}

struct Feeds;

impl Guest for Feeds {
    fn handle(request: Request) -> Response {
        Router::new()
            .put("/feeds/{name}", register)
            .get("/feeds/{name}", show)
            .post("/feeds/{name}/pull", pull_now)
            .get("/feeds/{name}/items", items)
            .post("/_feeds/pull", pull_stale)
            .handle(request)
    }
}

geofn_guest::export_handler!(Feeds);
geofn_guest::handler_manifest!(include_str!("../geofn-handler.toml"));
geofn_guest::handler_openapi!(include_str!("../openapi.json"));
