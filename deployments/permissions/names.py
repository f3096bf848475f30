"""Readable names for the Entra object ids Azure shows bare."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings

from accounts.models import User

if TYPE_CHECKING:
    pass


def principal_names(
    ids: Iterable[str], *, approvers: Iterable[Mapping[str, Any]] = ()
) -> dict[str, str]:
    """Readable names for Entra object ids: people who signed in, named approvers, settings."""
    wanted = {i.lower() for i in ids if i}
    names: dict[str, str] = {}
    configured = settings.PERMISSIONS_PRINCIPAL_NAMES
    for key, value in configured.items():
        if key.lower() in wanted:
            names[key.lower()] = str(value)
    for approver in approvers:
        if approver.get("id", "").lower() in wanted and approver.get("displayName"):
            names[approver["id"].lower()] = approver["displayName"]
    people = User.objects.filter(entra_object_id__in=[i for i in wanted if _is_uuid(i)])
    for person in people:
        names[str(person.entra_object_id).lower()] = str(person)
    return names


def principal_names_for(*states: Mapping[str, Any]) -> dict[str, str]:
    """Names for every principal a set of states mentions, with a clear fallback."""
    ids: set[str] = set()
    approvers: list[Mapping[str, Any]] = []
    types: dict[str, str] = {}
    for state in states:
        ids |= {a["principalId"] for a in state.get("authorizations", [])}
        approvers += (state.get("jitPolicy") or {}).get("approvers", [])
        for p in (state.get("denyAssignment") or {}).get("excludedPrincipals", []):
            types[p["id"]] = p["type"]
    names = principal_names(ids | {a["id"] for a in approvers}, approvers=approvers)
    for principal in ids:
        names.setdefault(principal, fallback_name(principal, types.get(principal, "")))
    return names


def fallback_name(principal_id: str, principal_type: str = "") -> str:
    """What to call a principal the portal has never met."""
    kind = {
        "ServicePrincipal": "An app of the publisher",
        "User": "A person of the publisher",
        "Group": "A group of the publisher",
    }.get(principal_type, "A principal of the publisher")
    return f"{kind} (object id {principal_id[:8]}…)"


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
