"""How much the publisher can do in an application without the customer saying yes.

Standing access is the risk: a role the publisher holds at all times, or one it gets by asking
when requests are approved automatically. A request a person must approve is gated, so JIT roles
behind manual approval count for less. The assessment is a pure function of a permission
snapshot's state (deployments/permissions/snapshot.py), so the sync can store its score on the
snapshot and pages can sort every application by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deployments.permissions import plain_language as pl
from deployments.permissions.changes import duration_seconds, duration_words

# How broad a role is. Unknown means the role definition has not been read yet: assumed broad.
NONE, READ, SOME_CHANGES, CONTRIBUTOR, OWNER = 0, 1, 2, 3, 4
UNKNOWN = CONTRIBUTOR

BREADTH_WORDS = {
    NONE: "nothing",
    READ: "read everything",
    SOME_CHANGES: "make some changes",
    CONTRIBUTOR: "create, change and delete anything",
    OWNER: "do anything, including deciding who else has access",
}

# The same, in a few words for a table cell.
BREADTH_SHORT = {
    NONE: "No access",
    READ: "Read",
    SOME_CHANGES: "Some changes",
    CONTRIBUTOR: "Change or delete anything",
    OWNER: "Full control, access included",
}

HIGH, MEDIUM, LOW, NO_RISK = "high", "medium", "low", "none"
LEVEL_LABELS = {
    HIGH: "High risk",
    MEDIUM: "Medium risk",
    LOW: "Low risk",
    NO_RISK: "No publisher access",
}
# Bootstrap colours of the level badges.
LEVEL_COLOURS = {HIGH: "danger", MEDIUM: "warning", LOW: "success", NO_RISK: "secondary"}


@dataclass(frozen=True)
class Risk:
    level: str
    # Orders applications: higher is riskier. Stored on PermissionSnapshot.risk_score.
    score: int
    reasons: list[str] = field(default_factory=list)
    # The model in a few words ("Full control, access included, at all times").
    summary: str = ""
    customer_can_change: list[str] = field(default_factory=list)
    customer_cannot_change: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self.level]

    @property
    def colour(self) -> str:
        return LEVEL_COLOURS[self.level]


def role_breadth(permissions: Sequence[Mapping[str, Any]]) -> int:
    """How broad a role's actions are, from its permissions (empty: not read yet)."""
    if not permissions:
        return UNKNOWN
    actions = {a.lower() for p in permissions for a in p.get("actions", [])}
    not_actions = [a for p in permissions for a in p.get("notActions", [])]
    data_actions = [a for p in permissions for a in p.get("dataActions", [])]
    if "*" in actions:
        if not any(pl.ACCESS_CONTROL.match(a) for a in not_actions):
            return OWNER
        return CONTRIBUTOR
    if any(not a.endswith("/read") for a in actions) or data_actions:
        return SOME_CHANGES
    return READ if actions else NONE


def assess(state: Mapping[str, Any], *, max_hours: int) -> Risk:
    """The risk of an application's permission model, with the reasons in plain words."""
    if state.get("managementMode") == "Unmanaged":
        return Risk(
            NO_RISK,
            0,
            ["The application is unmanaged: the publisher has no access to it."],
            summary="No publisher access",
        )
    roles = state.get("roles", {})
    breadths = [
        role_breadth(roles.get(a["roleDefinitionId"], {}).get("permissions", []))
        for a in state.get("authorizations", [])
    ]
    top = max(breadths, default=NONE)
    if top == NONE:
        return Risk(
            NO_RISK,
            0,
            ["The publisher holds no role in the managed resource group."],
            summary="No publisher access",
        )

    policy = state.get("jitPolicy") or {}
    jit_on = bool(policy.get("enabled"))
    automatic = jit_on and policy.get("approvalMode") != "ManualApprove"
    reasons: list[str] = []
    if not jit_on:
        standing = top
        summary = f"{BREADTH_SHORT[top]}, at all times"
        reasons.append(
            f"The publisher can {BREADTH_WORDS[top]} at any time, without asking: "
            "just-in-time access is not used."
        )
    else:
        standing = min(top, READ)
        if automatic:
            summary = f"{BREADTH_SHORT[top]}, approved automatically on request"
            reasons.append(
                f"Requests are approved automatically: the publisher can {BREADTH_WORDS[top]} "
                "whenever it asks."
            )
        else:
            summary = f"{BREADTH_SHORT[standing]} at all times; more after a person approves"
            reasons.append(
                f"The publisher can {BREADTH_WORDS[standing]} at any time; to "
                f"{BREADTH_WORDS[top]} it must ask, and a person must approve."
            )
    effective = top if automatic else standing

    modifiers = 0
    if jit_on and not automatic and top > standing:
        if not policy.get("approvers"):
            modifiers += 5
            reasons.append(
                "No approvers are named: nobody in your tenant is named to approve or to hear "
                "of a request."
            )
        seconds = duration_seconds(policy.get("maximumDuration"))
        if seconds and seconds > max_hours * 3600:
            modifiers += 5
            reasons.append(
                f"An approved elevation may last {duration_words(policy.get('maximumDuration'))}"
                f", longer than the {max_hours} hours this portal recommends."
            )
    if any(
        not roles.get(a["roleDefinitionId"], {}).get("permissions")
        for a in state.get("authorizations", [])
    ):
        reasons.append("A role definition has not been read yet; it is assumed to be broad.")

    if effective >= CONTRIBUTOR:
        level = HIGH
    elif effective == SOME_CHANGES or modifiers:
        level = MEDIUM
    else:
        level = LOW
    score = effective * 20 + top * 4 + modifiers
    can, cannot = _what_the_customer_controls(jit_on=jit_on)
    return Risk(level, score, reasons, summary, can, cannot)


def _what_the_customer_controls(*, jit_on: bool) -> tuple[list[str], list[str]]:
    cannot = [
        "the publisher's roles: they come with the offer's plan",
        "the lock on the managed resource group: the offer sets it",
    ]
    if jit_on:
        can = [
            "whether each request needs a person's approval",
            "who approves requests",
            "the longest an elevation may last",
        ]
        cannot.insert(0, "turning just-in-time access off: it is chosen at deployment")
    else:
        can = []
        cannot.insert(
            0,
            "turning just-in-time access on: Azure lets you choose it only when the application "
            "is deployed, so it takes a new deployment (or a plan of the publisher's with less "
            "standing access)",
        )
    return can, cannot
