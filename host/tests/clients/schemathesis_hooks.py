"""What OpenAPI 3.0 cannot say about geofn's parameters, for Schemathesis.

`host/tests/openapi.rs` runs Schemathesis against `/api` with the
`positive_data_acceptance` check: a request the document calls valid must
not be refused with a 400. A few rules span parameters or values in ways
a 3.0 schema cannot express; each is in its parameter's description, and
here, so generated requests that break one are left out. Nothing else is.
"""

import schemathesis

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def numbers(value):
    """A form-style array parameter, as a list of floats (or None)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        return None


def breaks_an_unsayable_rule(path, query):
    """Whether `query` breaks one of the rules the schema cannot say."""
    if not query:
        return False
    # Opaque values only the server mints (next links), and CQL2 text,
    # a grammar of its own (the conformance tests exercise it).
    if query.get("cursor") and path != "/regions/{id}/points":
        return True
    if query.get("filter"):
        return True
    # near and radius go together.
    if ("near" in query) != ("radius" in query):
        return True
    # Latitudes within ±90, and a box's in order (longitudes may cross
    # the antimeridian). Only CRS84 boxes are checked by bounds.
    bbox_crs = query.get("bbox-crs", CRS84)
    for name in ("bbox", "near", "contains"):
        values = numbers(query.get(name))
        if values is None:
            continue
        if name == "bbox" and bbox_crs != CRS84:
            return True
        lats = values[1::2]
        if any(abs(lat) > 90 for lat in lats):
            return True
        if name == "bbox" and len(lats) == 2 and lats[0] > lats[1]:
            return True
    return False


@schemathesis.hook
def filter_query(ctx, query):
    """Generation: such requests are not made (the fuzzing phase)."""
    return not breaks_an_unsayable_rule(ctx.operation.path, query)


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    """The coverage phase builds requests without filter_query: a refusal
    of one that breaks such a rule is the server being right. Any other
    failure stands."""
    return not (response.status_code == 400
                and breaks_an_unsayable_rule(case.operation.path, case.query))
