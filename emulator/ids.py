"""Identifiers: random GUIDs, GUIDs derived from their inputs, and the subscription of a scope."""

import functools
import uuid


def new_id() -> str:
    return str(uuid.uuid4())


@functools.lru_cache(maxsize=65_536)  # authorization checks derive the same ids on every call
def stable_id(*parts: str) -> str:
    """A GUID derived from its inputs, so derived objects (deny assignments, grants) keep their id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(p.lower() for p in parts)))


def subscription_of(scope: str) -> str:
    """The lower-cased subscription id a scope lies in, or "" for scopes above subscriptions."""
    parts = scope.lower().strip("/").split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "subscriptions" else ""
