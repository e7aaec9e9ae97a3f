"""Requests, responses and problem documents (RFC 9457), as the Rust SDK
writes them: the same `type` URNs, members and content types, so clients
cannot tell which language answered."""

import json
from urllib.parse import parse_qsl

from wit_world.imports import geofn_handler_types as types

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:geofn:problem:"


class Request:
    """One HTTP request: method, path, decoded query pairs, headers (names
    in lower case), whole body, and the route the host matched."""

    __slots__ = ("method", "path", "query", "headers", "body", "template", "params")

    def __init__(self, raw, template="", params=()):
        self.method = raw.method
        self.path = raw.path
        self.query = raw.query
        self.headers = {name.lower(): value for name, value in raw.headers}
        self.body = raw.body
        self.template = template
        self.params = dict(params)

    def header(self, name):
        return self.headers.get(name.lower())

    def query_pairs(self):
        """Decoded query parameters in order, repeated keys kept."""
        return parse_qsl(self.query, keep_blank_values=True)

    def single(self, name):
        """A query parameter given at most once: None when absent, a 400
        naming it when repeated."""
        values = [value for key, value in self.query_pairs() if key == name]
        if len(values) > 1:
            raise bad_parameter(name, f"{name} may be given once, got {len(values)}")
        return values[0] if values else None

    @property
    def identity(self):
        """Who is calling, as the host verified it from the request's bearer
        token (an `Identity`), or None for an anonymous request. The token
        itself never reaches a handler."""
        from .identity import current
        return current()

    def body_may_be_json(self):
        content_type = self.header("content-type")
        if content_type is None:
            return True
        essence = content_type.split(";", 1)[0].strip().lower()
        return essence == JSON or essence.endswith("+json")

    def json(self):
        """The body as JSON: 415 unless it may be JSON, 400 unless it is.
        `NaN` and `Infinity` are not JSON and are refused as such."""
        if not self.body_may_be_json():
            raise HttpError(415, "unsupported-media-type", "Unsupported media type",
                            "the body must be JSON (Content-Type: application/json)")
        try:
            return json.loads(self.body, parse_constant=_not_json)
        except (ValueError, UnicodeDecodeError) as err:
            raise HttpError(400, "malformed-json", "Malformed JSON",
                            f"the body is not valid JSON: {err}") from None


def _not_json(literal):
    raise ValueError(f"{literal} is not a JSON value")


class HttpError(Exception):
    """An answer other than success, as a problem document. Raise it from a
    route; the app turns it into the response."""

    def __init__(self, status, slug, title, detail, parameter=None, headers=()):
        super().__init__(detail)
        self.status = status
        self.document = {"type": TYPE_PREFIX + slug, "title": title, "status": status,
                         "detail": detail}
        if parameter is not None:
            self.document["parameter"] = parameter
        self.headers = list(headers)

    def response(self):
        return types.Response(self.status, [("content-type", PROBLEM_JSON), *self.headers],
                              json.dumps(self.document, ensure_ascii=False, separators=(",", ":")).encode())


def problem(status, slug, title, detail, parameter=None):
    """A problem to raise: `raise problem(409, "conflict", "Conflict", why)`."""
    return HttpError(status, slug, title, detail, parameter)


def bad_parameter(parameter, detail):
    """A 400 naming the parameter or field that was wrong."""
    return HttpError(400, "invalid-parameter", "Invalid parameter", detail, parameter)


def not_found(detail):
    return HttpError(404, "not-found", "Not found", detail)


def json_response(value, status=200, headers=None, content_type=JSON):
    """`value` as JSON (UTF-8, compact), with extra headers."""
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return types.Response(status, [("content-type", content_type), *(headers or {}).items()], body)


def raw_json_response(body, status=200, headers=None, content_type=JSON):
    """JSON text already rendered (`db.query_json`), answered as it is."""
    return types.Response(status, [("content-type", content_type), *(headers or {}).items()],
                          bytes(body))


def empty_response(status=204, headers=None):
    return types.Response(status, list((headers or {}).items()), b"")
