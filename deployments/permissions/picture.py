"""The picture a permission page shows: who holds what, JIT, the lock, and the cautions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from accounts.models import User
from deployments.models import (
    LockLevel,
    Offer,
    RoleDefinition,
)
from deployments.permissions import plain_language as pl

if TYPE_CHECKING:
    pass

from deployments.permissions.changes import approval_words, duration_seconds, duration_words
from deployments.permissions.names import fallback_name, principal_names, principal_names_for
from deployments.permissions.risk import Risk, assess


def max_jit_hours() -> int:
    """Longest JIT elevation the portal considers reasonable before it warns."""
    return settings.PERMISSIONS_MAX_JIT_HOURS


@dataclass(frozen=True)
class Grant:
    """One authorization, with readable names and what its role allows."""

    principal_id: str
    principal_name: str
    is_you: bool
    role_id: str
    role_name: str
    phrases: list[str]
    permissions: list[dict[str, list[str]]]


@dataclass(frozen=True)
class Caution:
    level: str  # Bootstrap alert colour: danger, warning, info
    title: str
    text: str


@dataclass
class Picture:
    """Everything the permission page says, worked out from a state (an app's, or an offer's)."""

    state: dict[str, Any]
    grants: list[Grant]
    jit_enabled: bool
    approval_words: str
    approvers: list[str]
    max_duration_words: str
    lock_level: str
    lock_label: str
    deny_excluded: list[str]
    allowed: list[tuple[str, str]]  # (phrase, exact action)
    publisher_always: list[str]
    publisher_more: list[str]
    publisher_more_sentence: str
    customer_can: list[str]
    customer_cannot: list[str]
    cautions: list[Caution] = field(default_factory=list)
    you_named: bool = False
    you_always: list[str] = field(default_factory=list)
    you_on_request: list[str] = field(default_factory=list)
    risk: Risk | None = None


def state_for_offer(offer: Offer) -> dict[str, Any]:
    """An offer's permission model in the same shape as a synced application's state."""
    guids = {a["roleDefinitionId"].lower() for a in offer.authorizations}
    known = {r.guid: r for r in RoleDefinition.objects.filter(guid__in=guids)}
    return {
        "managementMode": "Managed",
        "authorizations": sorted(
            (
                {
                    "principalId": a["principalId"].lower(),
                    "roleDefinitionId": a["roleDefinitionId"].lower(),
                }
                for a in offer.authorizations
            ),
            key=lambda a: (a["principalId"], a["roleDefinitionId"]),
        ),
        "roles": {
            guid: (
                {"name": known[guid].name, "permissions": known[guid].permissions}
                if guid in known
                else {"name": "", "permissions": []}
            )
            for guid in sorted(guids)
        },
        # Azure's defaults when a customer turns JIT on at install: automatic, 8 hours, nobody.
        "jitPolicy": (
            {
                "enabled": True,
                "approvalMode": "AutoApprove",
                "approvers": [],
                "maximumDuration": "PT8H",
            }
            if offer.jit_offered
            else None
        ),
        "lockLevel": offer.lock_level,
        "denyAssignment": None,
        "allowedActions": list(offer.allowed_actions),
        "allowedDataActions": list(offer.allowed_data_actions),
    }


def names_for_pictures(states: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Readable names for every principal the states mention, in two queries however many."""
    states = list(states)
    excluded = {
        p["id"]
        for state in states
        for p in (state.get("denyAssignment") or {}).get("excludedPrincipals", [])
    }
    return {**principal_names(excluded), **principal_names_for(*states)}


def picture_of(
    state: Mapping[str, Any],
    *,
    viewer: User,
    audience: str,
    jit_offered: bool = False,
    has_p2: str = "unknown",
    names: Mapping[str, str] | None = None,
) -> Picture:
    """Work out the summary, the detail and the warnings for a state, for one viewer.

    `names` (from `names_for_pictures`) saves the two name lookups when a page draws many."""
    if names is None:
        names = names_for_pictures([state])
    you = str(viewer.entra_object_id or "").lower()
    roles = state.get("roles", {})
    grants = []
    for a in state.get("authorizations", []):
        role = roles.get(a["roleDefinitionId"], {})
        grants.append(
            Grant(
                principal_id=a["principalId"],
                principal_name=names.get(a["principalId"], a["principalId"]),
                is_you=bool(you) and a["principalId"] == you,
                role_id=a["roleDefinitionId"],
                role_name=role.get("name") or f"Unknown role ({a['roleDefinitionId']})",
                phrases=pl.describe_role(role.get("permissions", []))
                if role.get("permissions")
                else ["(the role definition has not been read yet)"],
                permissions=role.get("permissions", []),
            )
        )
    policy = state.get("jitPolicy") or {}
    jit_enabled = bool(policy.get("enabled"))
    approvers = [a.get("displayName") or a["id"] for a in policy.get("approvers", [])]
    max_words = duration_words(policy.get("maximumDuration")) if jit_enabled else ""
    role_phrases = _union(g.phrases for g in grants)
    if any("*" in {x for p in g.permissions for x in p.get("actions", [])} for g in grants):
        # A role with every action already covers reading.
        role_phrases = [p for p in role_phrases if p != "read everything"] or role_phrases
    unmanaged = state.get("managementMode") == "Unmanaged"
    if unmanaged:
        always: list[str] = []
        more: list[str] = []
    elif jit_enabled:
        always = ["read everything"]
        more = _union(
            [f"as {g.role_name}: " + pl.join_phrases(g.phrases)]
            for g in grants
            if g.phrases != ["read everything"]
        )
    else:
        always, more = role_phrases, []
    approval = approval_words(policy.get("approvalMode"))
    if more and policy.get("approvalMode") == "ManualApprove":
        who = pl.join_phrases(approvers) if approvers else "an approver"
        sentence = (
            f"It can do more only after {who} approves a request, for at most {max_words} "
            "at a time:"
        )
    elif more:
        sentence = (
            "It can do more whenever it asks: requests are approved automatically, for at most "
            f"{max_words} at a time:"
        )
    else:
        sentence = ""
    lock = state.get("lockLevel") or LockLevel.NONE.value
    allowed = [
        (pl.describe_action(a), a)
        for a in list(state.get("allowedActions", [])) + list(state.get("allowedDataActions", []))
    ]
    can, cannot = _customer_rights(lock, [p for p, _ in allowed])
    deny = state.get("denyAssignment") or {}
    excluded_types = {p["id"]: p["type"] for p in deny.get("excludedPrincipals", [])}
    picture = Picture(
        state=dict(state),
        grants=grants,
        jit_enabled=jit_enabled,
        approval_words=approval if jit_enabled else "",
        approvers=approvers,
        max_duration_words=max_words,
        lock_level=lock,
        lock_label=dict(LockLevel.choices).get(lock, lock),
        deny_excluded=[
            names.get(pid) or fallback_name(pid, kind) for pid, kind in excluded_types.items()
        ],
        allowed=allowed,
        publisher_always=always,
        publisher_more=more,
        publisher_more_sentence=sentence,
        customer_can=can,
        customer_cannot=cannot,
    )
    picture.cautions = cautions_for(
        picture, audience=audience, jit_offered=jit_offered, has_p2=has_p2
    )
    picture.risk = assess(state, max_hours=max_jit_hours())
    mine = [g for g in grants if g.is_you]
    picture.you_named = bool(mine)
    if mine and jit_enabled:
        picture.you_always = ["read everything"]
        picture.you_on_request = [f"{g.role_name}: " + pl.join_phrases(g.phrases) for g in mine]
    elif mine and not unmanaged:
        picture.you_always = _union(g.phrases for g in mine)
    return picture


def _union(groups: Iterable[list[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for group in groups:
        for phrase in group:
            seen.setdefault(phrase, None)
    return list(seen)


def _customer_rights(lock: str, allowed: list[str]) -> tuple[list[str], list[str]]:
    if lock == LockLevel.READ_ONLY:
        return (
            ["read everything", *allowed],
            ["change or delete anything else in the managed resource group, even as an Owner"],
        )
    if lock == LockLevel.CAN_NOT_DELETE:
        return (
            ["read, create and change resources, as far as your own Azure role allows"],
            ["delete resources in the managed resource group (deleting the application does)"],
        )
    return (["whatever your own Azure role allows: nothing is locked"], [])


def cautions_for(
    picture: Picture, *, audience: str, jit_offered: bool, has_p2: str
) -> list[Caution]:
    """Where Azure would surprise people: what the customer should know about this model."""
    found: list[Caution] = []
    policy = picture.state.get("jitPolicy") or {}
    if jit_offered and policy and not policy.get("enabled"):
        found.append(
            Caution(
                "danger",
                "JIT was offered but is turned off",
                "The publisher has permanent access with its full roles, and Azure cannot turn "
                "just-in-time access on for an application after it is installed.",
            )
        )
    if picture.jit_enabled:
        if policy.get("approvalMode") != "ManualApprove":
            found.append(
                Caution(
                    "warning",
                    "Requests are approved automatically",
                    "Every elevation request is granted at once; approvers, if any, are only "
                    "told. Requests are recorded, not really gated.",
                )
            )
        if not policy.get("approvers"):
            found.append(
                Caution(
                    "warning",
                    "No approvers are named",
                    "Nobody in your tenant is named to approve or hear about elevation requests.",
                )
            )
        seconds = duration_seconds(policy.get("maximumDuration"))
        if seconds and seconds > max_jit_hours() * 3600:
            found.append(
                Caution(
                    "warning",
                    "Long elevations allowed",
                    f"An elevation may last {picture.max_duration_words}, longer than the "
                    f"{max_jit_hours()} hours this portal recommends.",
                )
            )
        if has_p2 == "no":
            found.append(
                Caution(
                    "danger",
                    "Your tenant has no Entra ID P2 licence",
                    "Azure approves just-in-time access through Entra ID PIM, which needs P2: "
                    "elevation requests for this application will fail.",
                )
            )
    if (
        not picture.jit_enabled
        and any(
            not g.permissions or "*" in {a for p in g.permissions for a in p["actions"]}
            for g in picture.grants
        )
        and picture.state.get("managementMode") != "Unmanaged"
    ):
        found.append(
            Caution(
                "info",
                "Standing access",
                "The publisher holds its roles at all times, without asking.",
            )
        )
    return found
