"""The {{name}} handler: GeoJSON point features in a table of its own.
`POST /{{name}}` stores a Feature, `GET /{{name}}/{id}` answers it,
`GET /{{name}}?bbox=minLon,minLat,maxLon,maxLat` the ones in a box."""

import math

from geofn import App, bad_parameter, config, db, json_response, not_found, raw_json_response

GEOJSON = "application/geo+json"
# A stored row as a GeoJSON Feature, built by PostGIS.
FEATURE = ("json_build_object('type', 'Feature', 'id', id, "
           "'geometry', ST_AsGeoJSON(geom)::json, 'properties', properties) AS feature")
# The same Feature as columns: db.query_json renders each row as an object
# with them as members, so a listing is JSON the host wrote, with no Python
# work per row.
FEATURE_COLUMNS = "'Feature' AS type, id, ST_AsGeoJSON(geom)::json AS geometry, properties"

app = App()


@app.post("/{{name}}")
def create(request):
    feature = request.json()
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise bad_parameter("type", "the body must be a GeoJSON Feature")
    geometry = feature.get("geometry")
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if (geometry.get("type") != "Point"
            or not isinstance(coordinates, list) or len(coordinates) != 2
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                       and math.isfinite(c) for c in coordinates)):
        raise bad_parameter("geometry", "a Feature with a Point [lon, lat]")
    lon, lat = coordinates
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise bad_parameter("geometry", f"[{lon}, {lat}] is not a longitude and latitude")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise bad_parameter("properties", "properties must be an object")
    caller = request.identity  # verified by the host from a bearer token, or None
    if caller is not None and caller.subject is not None:
        properties["owner"] = caller.subject
    row = db.query_one(
        "INSERT INTO {{table}} (properties, geom) VALUES ($1, ST_SetSRID(ST_MakePoint($2, $3), 4326)) "
        f"RETURNING id, {FEATURE}", properties, float(lon), float(lat))
    return json_response(row["feature"], 201, {"location": f"/{{name}}/{row['id']}"}, GEOJSON)


@app.get("/{{name}}/{id}")
def get_one(request):
    raw = request.params["id"]
    if not (raw.isascii() and raw.isdigit()):
        raise bad_parameter("id", f"an id is a positive integer, got {raw!r}")
    row = db.query_one(f"SELECT {FEATURE} FROM {{table}} WHERE id = $1", int(raw))
    if row is None:
        raise not_found(f"there is no feature {raw}")
    return json_response(row["feature"], content_type=GEOJSON)


@app.get("/{{name}}")
def in_box(request):
    raw = request.single("bbox") or "-180,-90,180,90"
    try:
        box = [float(n) for n in raw.split(",")]
    except ValueError:
        box = []
    if len(box) != 4 or not all(math.isfinite(n) for n in box):
        raise bad_parameter("bbox", f"bbox is minLon,minLat,maxLon,maxLat, got {raw!r}")
    # A variable of the manifest's: the operator may lower or raise it.
    limit = int(config.require("max_features"))
    features = db.query_json(f"SELECT {FEATURE_COLUMNS} FROM {{table}} "
                             "WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, 4326) "
                             "ORDER BY id LIMIT $5", *box, limit)
    return raw_json_response(b'{"type":"FeatureCollection","features":' + features + b"}",
                             content_type=GEOJSON)


WitWorld = app.world()
