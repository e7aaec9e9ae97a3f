"""The database, as the host lends it: SQL with `$1`-style parameters,
plain Python values in and out.

    rows = db.query("SELECT id, name FROM points WHERE id = $1", 42)
    rows[0]["name"]

Parameters: None, bool, int, float, str, bytes, dict/list (JSON),
`geometry.Point`/`Geometry`, `datetime` (timestamp). Rows come back as
dicts keyed by column, geometries decoded (`geometry.from_ewkb`), JSON
parsed, timestamps as ISO 8601 strings. Rows cross from the host in one
packed buffer (`query-packed`), not one object per cell.

A route that answers rows as JSON can have the host render them
(`query-json`) and answer the bytes as they come, with no Python work per
row: name the columns as the response names them and shape geometries in
SQL::

    body = db.query_json("SELECT id, ST_X(geom) AS longitude FROM points")
    return raw_json_response(body)

Failures raise `HttpError`s a route can let through: the database
unavailable is a 503 with Retry-After, a unique or foreign-key violation a
409, anything else a 500 (logged).
"""

import datetime
import json
import struct

from componentize_py_types import Err
from wit_world.imports import db as wit

from . import log
from .geometry import Geometry, Point, from_ewkb
from .http import HttpError

RETRY_AFTER_SECS = 1


def query(sql, *params):
    """All rows of `sql`, as dicts."""
    try:
        packed = wit.query_packed(sql, _values(params))
    except Err as err:
        raise _http_error(err.value) from None
    return unpack(packed)


def query_json(sql, *params):
    """All rows of `sql` as one JSON array (bytes, UTF-8), an object per row
    with its columns as members, rendered by the host. Floats read back as
    the same doubles; bytea and geometry columns are refused (a 500): shape
    them in SQL (`ST_AsGeoJSON(geom)::json`, `ST_X(geom)`)."""
    try:
        return wit.query_json(sql, _values(params))
    except Err as err:
        raise _http_error(err.value) from None


def query_one(sql, *params):
    """The first row of `sql`, or None."""
    rows = query(sql, *params)
    return rows[0] if rows else None


def execute(sql, *params):
    """Runs `sql`; the number of rows it changed."""
    try:
        return wit.execute(sql, _values(params))
    except Err as err:
        raise _http_error(err.value) from None


def use_primary():
    """This request's reads go to the primary (read-your-writes beyond
    what the host's token already gives)."""
    wit.use_primary()


class transaction:
    """Statements that commit together or not at all::

        with db.transaction() as tx:
            tx.execute("...", 1)
            tx.query("...")

    Leaving the block normally commits; an exception rolls back.
    """

    def __enter__(self):
        try:
            self._tx = wit.begin()
        except Err as err:
            raise _http_error(err.value) from None
        return self

    def query(self, sql, *params):
        try:
            return unpack(self._tx.query_packed(sql, _values(params)))
        except Err as err:
            raise _http_error(err.value) from None

    def query_json(self, sql, *params):
        try:
            return self._tx.query_json(sql, _values(params))
        except Err as err:
            raise _http_error(err.value) from None

    def execute(self, sql, *params):
        try:
            return self._tx.execute(sql, _values(params))
        except Err as err:
            raise _http_error(err.value) from None

    def __exit__(self, kind, value, traceback):
        tx, self._tx = self._tx, None
        if kind is not None:
            tx.__exit__(kind, value, traceback)  # dropping it rolls back
            return False
        try:
            wit.Transaction.commit(tx)
        except Err as err:
            raise _http_error(err.value) from None
        return False


def _values(params):
    return [_value(p) for p in params]


def _value(p):
    if p is None:
        return wit.Value_Null()
    if isinstance(p, bool):
        return wit.Value_Boolean(p)
    if isinstance(p, int):
        return wit.Value_Int(p)
    if isinstance(p, float):
        return wit.Value_Float(p)
    if isinstance(p, str):
        return wit.Value_Text(p)
    if isinstance(p, (bytes, bytearray, memoryview)):
        return wit.Value_Bytes(bytes(p))
    if isinstance(p, Point):
        return wit.Value_Geometry(p.ewkb())
    if isinstance(p, Geometry):
        return wit.Value_Geometry(p.ewkb)
    if isinstance(p, (dict, list)):
        return wit.Value_Json(json.dumps(p))
    if isinstance(p, datetime.datetime):
        return wit.Value_Timestamp(p.isoformat())
    raise TypeError(f"no database value for {type(p).__name__}")


_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")
_U32 = struct.Struct("<I")


def unpack(packed):
    """The rows of a `packed-rows` (layout in wit/handler.wit), as dicts."""
    columns, cells = packed.columns, memoryview(packed.cells)
    width, at, rows = len(columns), 0, []
    for _ in range(packed.count):
        row = {}
        for column in columns[:width]:
            tag = cells[at]
            at += 1
            if tag == 0:
                value = None
            elif tag == 1:
                value = cells[at] == 1
                at += 1
            elif tag == 2:
                (value,) = _I64.unpack_from(cells, at)
                at += 8
            elif tag == 3:
                (value,) = _F64.unpack_from(cells, at)
                at += 8
            else:
                (length,) = _U32.unpack_from(cells, at)
                at += 4
                raw = cells[at:at + length]
                at += length
                if tag == 4 or tag == 8:
                    value = str(raw, "utf-8")
                elif tag == 5:
                    value = bytes(raw)
                elif tag == 6:
                    value = json.loads(str(raw, "utf-8"))
                elif tag == 7:
                    value = from_ewkb(bytes(raw))
                else:
                    raise HttpError(500, "internal", "Internal error",
                                    "rows of an unexpected shape")
            row[column] = value
        rows.append(row)
    return rows


def _http_error(error):
    if isinstance(error, wit.DbError_Unavailable):
        log.warn(f"database unavailable: {error.value}")
        return HttpError(503, "database-unavailable", "Database unavailable",
                         "The database did not answer in time; retry shortly.",
                         headers=[("retry-after", str(RETRY_AFTER_SECS))])
    if isinstance(error, wit.DbError_QueryFailed) and error.value.code in ("23505", "23503"):
        constraint = error.value.constraint
        detail = "the request conflicts with what is stored"
        return HttpError(409, "conflict", "Conflict",
                         f"{detail} ({constraint})" if constraint else detail)
    log.error(f"database call failed: {error!r}")
    return HttpError(500, "database-error", "Database error",
                     "The database could not complete the request.")
