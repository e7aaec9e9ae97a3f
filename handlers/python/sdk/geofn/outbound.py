"""Outbound HTTP through the standard `wasi:http/outgoing-handler`: the
host sends a call only to an origin the manifest's `[outbound]
allowed_hosts` (or the operator's list) names, within the request's
deadline, its answer capped at a quarter of the handler's memory.
Redirects come back as they are (a 3xx)::

    answer = outbound.get("https://api.example.org/features",
                          headers={"authorization": f"Bearer {token}"})
    features = answer.json()          # a 502 problem if it is not JSON

A failure raises `OutboundError`, an `HttpError`: uncaught, the client
gets a 502 problem (504 when the upstream was too slow).
"""

import json as _json

from componentize_py_types import Err
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as h

from .http import HttpError

_WRITE_CHUNK = 4096
_READ_CHUNK = 256 * 1024
_METHODS = {
    "GET": h.Method_Get, "HEAD": h.Method_Head, "POST": h.Method_Post,
    "PUT": h.Method_Put, "DELETE": h.Method_Delete, "PATCH": h.Method_Patch,
    "OPTIONS": h.Method_Options,
}


class OutboundError(HttpError):
    """Why a call failed: `kind` is `bad-url`, `denied`, `unreachable`,
    `too-large` or `timeout`."""

    def __init__(self, kind, detail):
        status = 504 if kind == "timeout" else 502
        slug = "upstream-timeout" if kind == "timeout" else "upstream-failed"
        title = "Upstream timed out" if kind == "timeout" else "Upstream failed"
        super().__init__(status, slug, title, detail)
        self.kind = kind


class Answer:
    """An upstream's answer, body read whole."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        """The first value of header `name`, or None."""
        name = name.lower()
        return next((v for n, v in self.headers if n == name), None)

    def json(self):
        """The body parsed as JSON; OutboundError when it is not."""
        try:
            return _json.loads(self.body)
        except ValueError as err:
            raise OutboundError("unreachable", f"its answer is not JSON: {err}") from None


def get(url, headers=None):
    """GET `url`."""
    return request("GET", url, headers)


def post_json(url, value, headers=None):
    """POST `value` as JSON to `url`."""
    headers = dict(headers or {})
    headers.setdefault("content-type", "application/json")
    return request("POST", url, headers, _json.dumps(value).encode())


def request(method, url, headers=None, body=b""):
    """Calls `url` with `method`, `headers` (a dict) and `body` (bytes)."""
    scheme, authority, path = _split(url)
    entries = [(k.lower(), str(v).encode()) for k, v in (headers or {}).items()]
    try:
        fields = h.Fields.from_list(entries)
    except Err as err:
        raise OutboundError("bad-url", f"a header is invalid: {err.value}") from None
    outgoing = h.OutgoingRequest(fields)
    method = method.upper()
    try:
        outgoing.set_method(_METHODS[method]() if method in _METHODS else h.Method_Other(method))
        outgoing.set_scheme(h.Scheme_Https() if scheme == "https" else h.Scheme_Http())
        outgoing.set_authority(authority)
        outgoing.set_path_with_query(path)
    except Err:
        raise OutboundError("bad-url", f"{url!r} cannot be called") from None
    out_body = outgoing.body()
    if body:
        with out_body.write() as stream:
            for start in range(0, len(body), _WRITE_CHUNK):
                stream.blocking_write_and_flush(body[start:start + _WRITE_CHUNK])
    try:
        future = outgoing_handler.handle(outgoing, None)
        h.OutgoingBody.finish(out_body, None)
    except Err as err:
        raise _failure(err.value) from None
    with future:
        with future.subscribe() as ready:
            ready.block()
        outcome = future.get()
    # get() is some(ok(result)) once ready: the result is ok(response) or
    # err(error-code).
    if outcome is None or isinstance(outcome, Err):
        raise OutboundError("unreachable", "no answer")
    result = outcome.value
    if isinstance(result, Err):
        raise _failure(result.value)
    response = result.value
    with response:
        status = response.status()
        with response.headers() as fields:
            headers = [(n, v.decode("utf-8", "replace")) for n, v in fields.entries()]
        data = bytearray()
        with response.consume() as incoming, incoming.stream() as stream:
            while True:
                try:
                    data += stream.blocking_read(_READ_CHUNK)
                except Err as err:
                    if isinstance(err.value, streams.StreamError_Closed):
                        break
                    raise _read_failure(err.value.value) from None
    return Answer(status, headers, bytes(data))


def _split(url):
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise OutboundError("bad-url", f"{url!r} is not http(s)://host[:port]/path")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if not authority or "@" in authority:
        raise OutboundError("bad-url", f"{url!r} is not http(s)://host[:port]/path")
    if not path.startswith("/"):
        path = "/" + path
    return scheme, authority, path


def _failure(code):
    name = type(code).__name__
    if name in ("ErrorCode_HttpRequestDenied", "ErrorCode_DestinationIpProhibited"):
        return OutboundError("denied", f"the host refused the call: {name[10:]}")
    if name == "ErrorCode_HttpResponseBodySize":
        return OutboundError("too-large", "the answer is larger than the handler may hold")
    if name in ("ErrorCode_ConnectionTimeout", "ErrorCode_ConnectionReadTimeout",
                "ErrorCode_HttpResponseTimeout"):
        return OutboundError("timeout", "the upstream did not answer in time")
    return OutboundError("unreachable", f"the upstream could not be reached: {name[10:]}")


def _read_failure(io_error):
    code = h.http_error_code(io_error)
    if code is not None:
        return _failure(code)
    said = io_error.to_debug_string()
    # wasmtime hands a body's error over as text only; the host's cap says
    # so in these words.
    if "body size exceeds limit" in said:
        return OutboundError("too-large", "the answer is larger than the handler may hold")
    return OutboundError("unreachable", said)
