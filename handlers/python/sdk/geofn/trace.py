"""Spans of the handler's own in the request's trace: where its time went
between the host's spans (the handler call, each statement)::

    from geofn import trace

    with trace.span("render features") as span:
        span.set_attribute("features", str(len(rows)))

A span opened while another of the handler's is open is its child. When
traces are off or the request is not sampled this costs a host call and
records nothing; past 32 spans a request, spans are no-ops.
"""

from wit_world.imports import trace as wit


class Span:
    """A span of the handler's own; ends when its `with` block does (an
    exception leaving the block marks it failed)."""

    def __init__(self, name):
        self._span = wit.Span(str(name))

    def set_attribute(self, key, value):
        self._span.set_attribute(str(key), str(value))

    def set_error(self, message):
        self._span.set_error(str(message))

    def end(self):
        self._span.__exit__(None, None, None)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if value is not None:
            self.set_error(f"{kind.__name__}: {value}")
        self.end()
        return False


def span(name):
    """Starts a span named `name` now."""
    return Span(name)
