"""The points API of the guide's Flask app, as a geofn handler in Python:
wire-compatible with the Rust points handler on these routes, and on the
same table (its manifest, migrations included, is the Rust handler's), so
either can serve a database the other wrote.

- `POST /point` stores a point: 201, the point, its `Location`.
- `GET /points` lists points newest first; `limit` (default 100, at most
  10,000). The Rust handler's spatial filters (`bbox`, `near`) are not
  here: asked for, they are a 400 naming the parameter.
- `GET /points/{id}`, `DELETE /points/{id}`: 200/204, or 404.

Bad input is a problem document (application/problem+json) and stores
nothing: every check runs before the first database call.
"""

import math

from geofn import (App, bad_parameter, db, json_response, not_found, problem, raw_json_response,
                   trace)
from geofn.geometry import Point
from geofn.http import empty_response

app = App()

MAX_NAME_CHARS = 100
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000
MAX_ID = 2**63 - 1
UNSUPPORTED = ("bbox", "near", "radius", "cursor", "datetime", "f")

INSERT = "INSERT INTO points (name, geom) VALUES ($1, $2) RETURNING id, name, geom"
# The listing's rows leave the host as the response body (db.query_json):
# columns named and ordered as the wire format, coordinates taken in SQL.
NEWEST = ("SELECT id, name, ST_X(geom) AS longitude, ST_Y(geom) AS latitude "
          "FROM points ORDER BY id DESC LIMIT $1")
BY_ID = "SELECT id, name, geom FROM points WHERE id = $1"
DELETE = "DELETE FROM points WHERE id = $1"


def wire(row):
    """A point as the guide's Flask app wrote it."""
    geom = row["geom"]
    return {"id": row["id"], "name": row["name"], "longitude": geom.x, "latitude": geom.y}


@app.post("/point")
def create(request):
    body = request.json()
    if not isinstance(body, dict):
        raise problem(400, "malformed-json", "Malformed JSON",
                      "the body must be a JSON object with longitude, latitude and name")
    # A span of its own in the request's trace (when it is traced).
    with trace.span("check point") as span:
        longitude = coordinate(body, "longitude", 180.0)
        latitude = coordinate(body, "latitude", 90.0)
        name = checked_name(body)
        span.set_attribute("point.name_chars", len(name))
    point = wire(db.query_one(INSERT, name, Point(longitude, latitude)))
    return json_response(point, 201, {"location": f"/points/{point['id']}"})


@app.get("/points")
def listing(request):
    for parameter in UNSUPPORTED:
        if request.single(parameter) is not None:
            raise bad_parameter(parameter, f"{parameter} is not supported by the Python points "
                                           "handler (the Rust one has it)")
    raw = request.single("limit")
    limit = DEFAULT_LIMIT
    if raw is not None:
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
            raise bad_parameter("limit", f"limit must be an integer from 1 to {MAX_LIMIT}, "
                                         f"got {raw!r}")
        limit = int(raw)
    return raw_json_response(db.query_json(NEWEST, limit))


@app.get("/points/{id}")
def fetch(request):
    point_id = checked_id(request)
    row = db.query_one(BY_ID, point_id)
    if row is None:
        raise not_found(f"there is no point with id {point_id}")
    return json_response(wire(row))


@app.delete("/points/{id}")
def remove(request):
    point_id = checked_id(request)
    if db.execute(DELETE, point_id) == 0:
        raise not_found(f"there is no point with id {point_id}")
    return empty_response(204)


def coordinate(body, field, bound):
    value = body.get(field)
    if value is None:
        raise bad_parameter(field, f"{field} is required")
    # bool is an int in Python, not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_parameter(field, f"{field} must be a finite number")
    if not -bound <= value <= bound:
        raise bad_parameter(field, f"{field} must be between -{bound} and {bound}, got {value}")
    return float(value)


def checked_name(body):
    name = body.get("name")
    if name is None:
        raise bad_parameter("name", "name is required")
    if not isinstance(name, str):
        raise bad_parameter("name", "name must be a string")
    if not name.strip():
        raise bad_parameter("name", "name must not be empty")
    if len(name) > MAX_NAME_CHARS:
        raise bad_parameter("name", f"name must be at most {MAX_NAME_CHARS} characters, "
                                    f"got {len(name)}")
    if "\0" in name:
        raise bad_parameter("name", "name must not contain NUL characters")
    return name


def checked_id(request):
    raw = request.params.get("id", "")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ID:
        raise bad_parameter("id", f"a point id is a positive integer, got {request.path!r}")
    return int(raw)


WitWorld = app.world()
