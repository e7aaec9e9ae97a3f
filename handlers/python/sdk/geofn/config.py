"""The handler's variables and secrets, as its manifest declares them
(`[variables]`) and the operator sets them, read through the standard
`wasi:config/store` interface::

    # geofn-handler.toml:  [variables]
    #                      page_size = { default = "100" }
    #                      token = { secret = true }
    page = int(config.require("page_size"))
    token = config.require("token")

The host refuses to load a version whose required variables have no value,
so `require` fails only for a variable marked `required = false` or not
declared. A secret is the handler's to use, not to show: the host cuts
secret values out of log lines, spans and tracebacks, not out of responses.
"""

from wit_world.imports import store as wit_store

from .http import HttpError


def get(name, default=None):
    """The value of `name`, or `default` when it is unset or not declared."""
    try:
        value = wit_store.get(name)
    except Exception:  # the host never fails a read; be safe anyway
        return default
    return default if value is None else value


def require(name):
    """The value of `name`; a 500 problem when it has none (a deployment
    mistake, never the client's)."""
    value = get(name)
    if value is None:
        raise HttpError(500, "misconfigured", "Handler misconfigured",
                        f"the handler's variable {name!r} has no value")
    return value
