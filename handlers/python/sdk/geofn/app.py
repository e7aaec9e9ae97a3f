"""Routes to functions. The host has already matched the request against
the manifest's routes and says which template matched (`route.current`),
so dispatch is a lookup, and `{name}` parameters arrive decoded."""

import traceback

from wit_world.imports import route as wit_route
from wit_world.imports import geofn_handler_types as types

from . import log
from .http import HttpError, Request


class App:
    """A handler's routes: `@app.get("/points/{id}")` and the like. A route
    returns a `types.Response` (see `json_response`) or raises `HttpError`;
    anything else it raises is a 500 problem, its traceback logged."""

    def __init__(self):
        self._routes = {}

    def route(self, method, template):
        def register(function):
            self._routes[(method.upper(), template)] = function
            return function
        return register

    def get(self, template):
        return self.route("GET", template)

    def post(self, template):
        return self.route("POST", template)

    def put(self, template):
        return self.route("PUT", template)

    def patch(self, template):
        return self.route("PATCH", template)

    def delete(self, template):
        return self.route("DELETE", template)

    def handle(self, raw):
        """One request in, one response out; never raises."""
        try:
            matched = wit_route.current()
            request = Request(raw, matched.template, matched.params)
            method = "GET" if raw.method == "HEAD" else raw.method
            function = self._routes.get((method, matched.template))
            if function is None:
                raise HttpError(404, "not-found", "Not found",
                                f"no route for {raw.method} {matched.template or raw.path}")
            return function(request)
        except HttpError as err:
            return err.response()
        except Exception:  # noqa: BLE001 - the handler's own bugs answer 500, logged
            log.error(traceback.format_exc())
            return HttpError(500, "internal", "Internal error",
                             "the handler failed; its log says why").response()

    def world(self):
        """The class componentize-py exports as the component's world:
        assign it to `WitWorld` in the handler's module."""
        app = self

        class WitWorld:
            def handle(self, request: types.Request) -> types.Response:
                return app.handle(request)

        return WitWorld
