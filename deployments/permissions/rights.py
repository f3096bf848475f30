"""The signed-in person's own effective rights on a managed resource group.

They depend on the person, so they are not synced: the page asks ARM's permissions API with the
person's delegated token when it is viewed, and caches the answer for a few minutes.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.utils import timezone

from accounts.models import User
from azure_gateway import AzureError
from deployments.models import (
    ManagedApplication,
    PermissionSnapshot,
)
from deployments.permissions import plain_language as pl

if TYPE_CHECKING:
    pass

from deployments.permissions.snapshot import permission_json

log = logging.getLogger(__name__)

RIGHTS_CACHE_SECONDS = 300


@dataclass(frozen=True)
class PersonRights:
    """What ARM says the person may do on the managed resource group, less what the lock blocks."""

    fetched_at: dt.datetime | None
    can: list[str]
    blocked: list[str]
    actions: list[str]
    error: str = ""


def _covers(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def effective_actions(
    granted: Sequence[Mapping[str, list[str]]], deny: Mapping[str, Any] | None, *, viewer_id: str
) -> tuple[list[str], list[str]]:
    """Role actions after the deny assignment: (what remains, what the lock takes away).

    ARM's permissions API lists role permissions only; it does not subtract deny assignments,
    so the page does, unless the person is one of the deny assignment's excluded principals.
    """
    actions = [a for p in granted for a in p.get("actions", [])]
    if not deny or viewer_id in {p["id"] for p in deny.get("excludedPrincipals", [])}:
        return actions, []
    denied = [a for p in deny.get("permissions", []) for a in p.get("actions", [])]
    exempt = [a for p in deny.get("permissions", []) for a in p.get("notActions", [])]
    remaining: list[str] = []
    for action in actions:
        if not any(_covers(d, action) for d in denied):
            remaining.append(action)
        else:
            remaining += [n for n in exempt if _covers(action, n) and n not in remaining]
    blocked = [d for d in denied if any(_covers(a, d) or _covers(d, a) for a in actions)]
    return remaining, blocked


def person_rights(*, application: ManagedApplication, user: User) -> PersonRights:
    """The person's effective rights on the app's managed resource group, cached for minutes.

    Asked with the person's delegated token, so ARM answers for them and not for the portal.
    """
    from accounts.tokens import SignInRequired, TokenServiceUnavailable, arm_access_token
    from azure_gateway import gateway_for_token

    if not application.managed_resource_group_id:
        return PersonRights(
            None, [], [], [], error="The application has no managed resource group yet."
        )
    key = f"permissions:rights:{user.pk}:{application.pk}"
    cached = cache.get(key)
    if isinstance(cached, PersonRights):
        return cached
    try:
        with gateway_for_token(lambda: arm_access_token(user)) as gateway:
            granted = [
                permission_json(p)
                for p in gateway.my_permissions(application.managed_resource_group_id)
            ]
    except SignInRequired:
        return PersonRights(None, [], [], [], error="Sign in again to see your own rights.")
    except (TokenServiceUnavailable, AzureError) as exc:
        log.info("Could not read %s's rights on %s: %s", user.pk, application.pk, exc)
        return PersonRights(None, [], [], [], error="Azure did not answer; try again in a minute.")
    snapshot = PermissionSnapshot.objects.filter(application=application).first()
    deny = snapshot.state.get("denyAssignment") if snapshot else None
    remaining, blocked = effective_actions(
        granted, deny, viewer_id=str(user.entra_object_id or "").lower()
    )
    if "*" in remaining:
        remaining = ["*"]  # "do anything" says it all
    rights = PersonRights(
        fetched_at=timezone.now(),
        can=pl.describe_actions(remaining) or ["nothing"],
        blocked=["anything else"] if "*" in blocked else pl.describe_actions(blocked),
        actions=sorted({a for p in granted for a in p["actions"]}),
    )
    cache.set(key, rights, RIGHTS_CACHE_SECONDS)
    return rights
