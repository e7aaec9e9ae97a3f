"""geofn's Python SDK: what a handler written in Python needs, over the
bindings componentize-py generates from `wit/handler.wit`.

A handler is one module that builds an `App`, registers its routes and
exports the component's world::

    from geofn import App, json_response

    app = App()

    @app.get("/hello/{name}")
    def hello(request):
        return json_response({"hello": request.params["name"]})

    WitWorld = app.world()

The host matches routes (from the manifest embedded in the component) and
tells the handler which template matched: `App` dispatches on it, so a
route is written once, in the manifest, and named again here.
"""

from .app import App
from .http import (HttpError, Request, bad_parameter, json_response, not_found, problem,
                   raw_json_response)
from .identity import Identity
from . import config, db, log, outbound, trace

__all__ = [
    "App",
    "HttpError",
    "Identity",
    "Request",
    "bad_parameter",
    "config",
    "db",
    "json_response",
    "log",
    "not_found",
    "outbound",
    "problem",
    "raw_json_response",
    "trace",
]
