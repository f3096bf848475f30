"""Differences between two permission states, in plain language (the change feed and mails)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import isodate

from deployments.models import (
    LockLevel,
)
from deployments.permissions import plain_language as pl

if TYPE_CHECKING:
    pass


ASPECT_LABELS = {
    "managementMode": "Management mode",
    "authorizations": "Publisher authorizations",
    "roles": "Role definitions",
    "jitPolicy": "Just-in-time access policy",
    "lockLevel": "Lock level",
    "denyAssignment": "Deny assignment",
    "allowedActions": "Allowed customer actions",
}


def describe_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], *, names: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """Which aspects differ, and one sentence per difference."""
    aspects = [key for key in ASPECT_LABELS if before.get(key) != after.get(key)]
    data_changed = before.get("allowedDataActions") != after.get("allowedDataActions")
    if data_changed and "allowedActions" not in aspects:
        aspects.append("allowedActions")
    lines: list[str] = []
    roles = {**before.get("roles", {}), **after.get("roles", {})}

    def role_name(guid: str) -> str:
        return roles.get(guid, {}).get("name") or f"role {guid}"

    def pairs(state: Mapping[str, Any]) -> set[tuple[str, str]]:
        return {(a["principalId"], a["roleDefinitionId"]) for a in state.get("authorizations", [])}

    for principal, role in sorted(pairs(after) - pairs(before)):
        lines.append(f"{names.get(principal, principal)} was given the {role_name(role)} role.")
    for principal, role in sorted(pairs(before) - pairs(after)):
        lines.append(f"{names.get(principal, principal)} no longer holds {role_name(role)}.")
    for guid in sorted(set(before.get("roles", {})) & set(after.get("roles", {}))):
        old, new = before["roles"][guid], after["roles"][guid]
        if old == new:
            continue
        old_actions = {a for p in old["permissions"] for a in p["actions"] + p["dataActions"]}
        new_actions = {a for p in new["permissions"] for a in p["actions"] + p["dataActions"]}
        old_not = {a for p in old["permissions"] for a in p["notActions"]}
        new_not = {a for p in new["permissions"] for a in p["notActions"]}
        gained = sorted((new_actions - old_actions) | (old_not - new_not))
        lost = sorted((old_actions - new_actions) | (new_not - old_not))
        text = f"The {role_name(guid)} role definition changed"
        if gained:
            text += "; it now also allows: " + pl.join_phrases(pl.describe_actions(gained))
        if lost:
            text += "; it no longer allows: " + pl.join_phrases(pl.describe_actions(lost))
        lines.append(text + ".")
    lines.extend(_jit_changes(before.get("jitPolicy"), after.get("jitPolicy")))
    old_lock, new_lock = str(before.get("lockLevel")), str(after.get("lockLevel"))
    if old_lock != new_lock:
        labels = dict(LockLevel.choices)
        lines.append(
            f"The lock changed from “{labels.get(old_lock, old_lock)}”"
            f" to “{labels.get(new_lock, new_lock)}”."
        )
    old_allowed = set(before.get("allowedActions", [])) | set(before.get("allowedDataActions", []))
    new_allowed = set(after.get("allowedActions", [])) | set(after.get("allowedDataActions", []))
    if new_allowed - old_allowed:
        lines.append(
            "The customer's people may now also: "
            + pl.join_phrases(pl.describe_actions(sorted(new_allowed - old_allowed)))
            + "."
        )
    if old_allowed - new_allowed:
        lines.append(
            "The customer's people may no longer: "
            + pl.join_phrases(pl.describe_actions(sorted(old_allowed - new_allowed)))
            + "."
        )
    if before.get("managementMode") != after.get("managementMode"):
        lines.append(
            f"Management mode changed from {before.get('managementMode') or 'unknown'} "
            f"to {after.get('managementMode') or 'unknown'}."
        )
    if not lines and "denyAssignment" in aspects:
        lines.append("The deny assignment on the managed resource group changed.")
    return aspects, lines


def _jit_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[str]:
    if old == new:
        return []
    if not new or not new.get("enabled"):
        return ["Just-in-time access is now off: the publisher's roles are standing access."]
    if not old or not old.get("enabled"):
        return ["Just-in-time access is now on: the publisher must request elevation."]
    lines = []
    if old.get("approvalMode") != new.get("approvalMode"):
        lines.append(
            f"Requests are now {approval_words(new.get('approvalMode'))} "
            f"(they were {approval_words(old.get('approvalMode'))})."
        )
    old_ids = {a["id"]: a for a in old.get("approvers", [])}
    new_ids = {a["id"]: a for a in new.get("approvers", [])}
    for key in sorted(new_ids.keys() - old_ids.keys()):
        lines.append(f"{new_ids[key].get('displayName') or key} was added as an approver.")
    for key in sorted(old_ids.keys() - new_ids.keys()):
        lines.append(f"{old_ids[key].get('displayName') or key} is no longer an approver.")
    if old.get("maximumDuration") != new.get("maximumDuration"):
        lines.append(
            f"The longest elevation changed from {duration_words(old.get('maximumDuration'))} "
            f"to {duration_words(new.get('maximumDuration'))}."
        )
    return lines


def approval_words(mode: str | None) -> str:
    return {
        "ManualApprove": "approved by a person",
        "AutoApprove": "approved automatically",
    }.get(mode or "", "approved in an unspecified way")


def duration_words(value: str | None) -> str:
    return pl.describe_duration(duration_seconds(value)) or "no limit"


def duration_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(isodate.parse_duration(value).total_seconds())
    except (isodate.ISO8601Error, AttributeError):
        return None
