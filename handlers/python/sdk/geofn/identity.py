"""Who is calling: the caller the host verified from the request's bearer
token before the handler ran. Its SQL sees the same claims as
current_setting('request.jwt.claims', true)."""

import json

from wit_world.imports import identity as wit_identity


class Identity:
    """A verified caller: `subject` (the token's `sub`, or None), `scopes`
    (a list), `claims` (every claim, a dict)."""

    __slots__ = ("subject", "scopes", "claims")

    def __init__(self, subject, scopes, claims):
        self.subject = subject
        self.scopes = scopes
        self.claims = claims

    def has_scope(self, scope):
        return scope in self.scopes

    def __repr__(self):
        return f"Identity(subject={self.subject!r}, scopes={self.scopes!r})"


def current():
    """The caller of this request, or None for an anonymous one."""
    caller = wit_identity.current()
    if caller is None:
        return None
    return Identity(caller.subject, list(caller.scopes), json.loads(caller.claims))
