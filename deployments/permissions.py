"""Permission X-ray: who may do what in a managed application, and when that changed.

The sync calls `mirror_permissions` for each application. It reads the role definitions behind
the publisher's authorizations, builds one comparable picture (the "state") of the authorizations,
their roles' actions, the JIT policy, the deny assignment, the lock and the customer's allowed
actions, and compares it with the stored snapshot. A difference writes the snapshot and one
PermissionChangeEvent, whose mail to the customer tenant's admins is claimed once. Nothing is
written when nothing changed, like the rest of the mirror.

The customer's own effective rights depend on the person, so they are not synced: the page asks
ARM's permissions API with the person's delegated token when it is viewed, and caches the answer
for a few minutes (`person_rights`).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import isodate
from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role, User
from deployments import plain_language as pl
from deployments.elevations import elevation_values
from deployments.models import (
    Elevation,
    LockLevel,
    ManagedApplication,
    Offer,
    PermissionChangeEvent,
    PermissionSnapshot,
    RoleDefinition,
)
from deployments.upsert import upsert
from portal.azure import AzureError, Forbidden, NotFound
from portal.azure.records import (
    DenyAssignmentRecord,
    JitRequestRecord,
    ManagedAppRecord,
    PermissionSet,
    RoleDefinitionRecord,
)

if TYPE_CHECKING:
    from deployments.sync import SyncContext

log = logging.getLogger(__name__)

ALL_PRINCIPALS = "00000000-0000-0000-0000-000000000000"
RIGHTS_CACHE_SECONDS = 300
TIMELINE_DAYS = 90
ASPECT_LABELS = {
    "managementMode": "Management mode",
    "authorizations": "Publisher authorizations",
    "roles": "Role definitions",
    "jitPolicy": "Just-in-time access policy",
    "lockLevel": "Lock level",
    "denyAssignment": "Deny assignment",
    "allowedActions": "Allowed customer actions",
}


def max_jit_hours() -> int:
    """Longest JIT elevation the portal considers reasonable before it warns."""
    return settings.PERMISSIONS_MAX_JIT_HOURS


# --- Sync: build, compare, record -------------------------------------------------------------


# Built-in roles are Microsoft's and the same in every tenant, so one read serves every tenant's
# sync for a while; custom roles belong to one tenant and are read by each of its syncs.
BUILT_IN_ROLE_MAX_AGE = dt.timedelta(hours=1)
BUILT_IN = "BuiltInRole"
# Change mails that could not be sent are sent again by a periodic task, this many per round.
UNSENT_MAILS_PER_ROUND = 100


@dataclass
class SyncCache:
    """What one sync reads once and reuses across its applications.

    The stored rows are loaded by `load_stored_rows` with one query per kind for all the
    applications the sync mirrors, instead of a few queries per application.
    """

    roles: dict[str, RoleDefinitionRecord | None] = field(default_factory=dict)
    jit_requests: dict[str, list[JitRequestRecord]] = field(default_factory=dict)
    snapshots: dict[int, PermissionSnapshot] = field(default_factory=dict)
    elevations: dict[int, dict[str, Elevation]] = field(default_factory=dict)
    # Rows first seen by this sync, inserted together by `write_new_rows`.
    new_snapshots: list[PermissionSnapshot] = field(default_factory=list)
    new_elevations: list[Elevation] = field(default_factory=list)


def load_stored_rows(cache: SyncCache, applications: QuerySet[ManagedApplication]) -> None:
    """Read the stored snapshots and elevations of `applications`."""
    cache.snapshots = {
        snapshot.application_id: snapshot
        for snapshot in PermissionSnapshot.objects.filter(application__in=applications)
    }
    cache.elevations = defaultdict(dict)
    for elevation in Elevation.objects.filter(application__in=applications):
        cache.elevations[elevation.application_id][elevation.arm_id.lower()] = elevation


def write_new_rows(cache: SyncCache) -> None:
    """Insert the snapshots and elevations the sync saw for the first time, one query each."""
    PermissionSnapshot.objects.bulk_create(cache.new_snapshots)
    Elevation.objects.bulk_create(cache.new_elevations)
    cache.new_snapshots, cache.new_elevations = [], []


def send_unsent_change_mails(*, limit: int = UNSENT_MAILS_PER_ROUND) -> int:
    """Send again the change mails that could not be sent, oldest first (each is claimed once, so
    a mail being sent right now is left alone). Returns the messages sent."""
    unsent = PermissionChangeEvent.objects.filter(mailed_at__isnull=True).order_by("pk")
    return sum(
        permission_change_mail_send(event_id=event_id)
        for event_id in unsent.values_list("pk", flat=True)[:limit]
    )


def mirror_permissions(
    context: SyncContext,
    app: ManagedApplication,
    record: ManagedAppRecord,
    deny: DenyAssignmentRecord | None,
) -> PermissionChangeEvent | None:
    """Bring the app's permission snapshot and elevations in step; record a change if any."""
    cache = context.permissions
    roles = _roles(context, {a.role_definition_id for a in record.authorizations})
    state = build_state(record, deny, roles)
    snapshot = cache.snapshots.get(app.pk)
    if snapshot is None:
        # The first look is the baseline, not a change.
        cache.new_snapshots.append(
            PermissionSnapshot(
                application=app, state=state, first_seen_at=context.now, changed_at=context.now
            )
        )
        event = None
    else:
        event = _record_snapshot(app, snapshot, state, now=context.now)
    _mirror_elevations(context, app, record)
    return event


def _roles(context: SyncContext, guids: set[str]) -> dict[str, RoleDefinitionRecord | None]:
    """The role definitions behind the authorizations: from this sync, the database, or ARM."""
    known = context.permissions.roles
    missing = {guid.lower() for guid in guids} - known.keys()
    if missing:
        fresh = RoleDefinition.objects.filter(
            guid__in=missing,
            role_type=BUILT_IN,
            refreshed_at__gte=context.now - BUILT_IN_ROLE_MAX_AGE,
        )
        for row in fresh:
            known[row.guid] = _role_record(row)
    for guid in sorted(missing - known.keys()):
        try:
            role = context.gateway.get_role_definition(guid)
        except (NotFound, Forbidden):
            role = None
        known[guid] = role
        if role is not None:
            _store_role(role, now=context.now)
    return {guid: known[guid.lower()] for guid in guids}


def _role_record(row: RoleDefinition) -> RoleDefinitionRecord:
    return RoleDefinitionRecord(
        id=row.guid,
        arm_id=f"/providers/Microsoft.Authorization/roleDefinitions/{row.guid}",
        name=row.name,
        role_type=row.role_type,
        description=row.description,
        permissions=tuple(
            PermissionSet(
                actions=tuple(entry.get("actions", [])),
                not_actions=tuple(entry.get("notActions", [])),
                data_actions=tuple(entry.get("dataActions", [])),
                not_data_actions=tuple(entry.get("notDataActions", [])),
            )
            for entry in row.permissions
        ),
    )


def _permission_json(entry: PermissionSet) -> dict[str, list[str]]:
    return {
        "actions": list(entry.actions),
        "notActions": list(entry.not_actions),
        "dataActions": list(entry.data_actions),
        "notDataActions": list(entry.not_data_actions),
    }


def _store_role(role: RoleDefinitionRecord, *, now: dt.datetime) -> None:
    """Keep the role's name and actions for pages (offers are shown before any app syncs)."""
    values = {
        "name": role.name,
        "role_type": role.role_type,
        "description": role.description,
        "permissions": [_permission_json(p) for p in role.permissions],
        "refreshed_at": now,
    }
    row = RoleDefinition.objects.filter(guid=role.id.lower()).first()
    upsert(RoleDefinition, row, {"guid": role.id.lower()}, values, shared=True)


def build_state(
    record: ManagedAppRecord,
    deny: DenyAssignmentRecord | None,
    roles: Mapping[str, RoleDefinitionRecord | None],
) -> dict[str, Any]:
    """The comparable picture of an application's permissions (JSON, sorted, GUIDs lower-case)."""
    policy = record.jit_policy
    jit_policy = None
    if policy is not None:
        jit_policy = {
            "enabled": policy.enabled,
            "approvalMode": policy.approval_mode,
            "approvers": sorted(
                (
                    {"id": a.id.lower(), "type": a.type, "displayName": a.display_name}
                    for a in policy.approvers
                ),
                key=lambda a: a["id"],
            ),
            "maximumDuration": (
                isodate.duration_isoformat(policy.maximum_duration)
                if policy.maximum_duration
                else None
            ),
        }
    deny_state = None
    allowed: list[str] = []
    allowed_data: list[str] = []
    lock = LockLevel.NONE.value
    if deny is not None:
        permissions = [_permission_json(p) for p in deny.permissions]
        deny_state = {
            "name": deny.name,
            "permissions": permissions,
            "principals": sorted(p.id.lower() for p in deny.principals),
            "excludedPrincipals": sorted(
                ({"id": p.id.lower(), "type": p.type} for p in deny.excluded_principals),
                key=lambda p: p["id"],
            ),
        }
        actions = {a.lower() for p in deny.permissions for a in p.actions}
        lock = LockLevel.READ_ONLY.value if "*" in actions else LockLevel.CAN_NOT_DELETE.value
        allowed = sorted(
            {a for p in deny.permissions for a in p.not_actions if a.lower() != "*/read"}
        )
        allowed_data = sorted({a for p in deny.permissions for a in p.not_data_actions})
    role_state: dict[str, dict[str, Any]] = {}
    for guid, role in sorted(roles.items()):
        if role is None:
            role_state[guid.lower()] = {"name": "", "permissions": []}
        else:
            role_state[guid.lower()] = {
                "name": role.name,
                "permissions": [_permission_json(p) for p in role.permissions],
            }
    return {
        "installedAt": record.created_at.isoformat() if record.created_at else None,
        "managementMode": record.management_mode,
        "authorizations": sorted(
            (
                {
                    "principalId": a.principal_id.lower(),
                    "roleDefinitionId": a.role_definition_id.lower(),
                }
                for a in record.authorizations
            ),
            key=lambda a: (a["principalId"], a["roleDefinitionId"]),
        ),
        "roles": role_state,
        "jitPolicy": jit_policy,
        "lockLevel": lock,
        "denyAssignment": deny_state,
        "allowedActions": allowed,
        "allowedDataActions": allowed_data,
    }


def _record_snapshot(
    app: ManagedApplication,
    snapshot: PermissionSnapshot,
    state: dict[str, Any],
    *,
    now: dt.datetime,
) -> PermissionChangeEvent | None:
    if snapshot.state == state:
        return None
    before = snapshot.state
    if _comparable(before) == _comparable(state):
        # Only bookkeeping (such as the install time) differs: not a change in who may do what.
        PermissionSnapshot.objects.filter(pk=snapshot.pk).update(state=state)
        return None
    aspects, lines = describe_changes(before, state, names=principal_names_for(before, state))
    with transaction.atomic():
        # Claim the change: of two syncs that saw the same old state, only one records it.
        claimed = PermissionSnapshot.objects.filter(pk=snapshot.pk, state=before).update(
            state=state, changed_at=now
        )
        if not claimed:
            return None
        event = PermissionChangeEvent.objects.create(
            application=app,
            customer_tenant_id=app.customer_tenant_id,
            at=now,
            aspects=aspects,
            lines=lines,
            before=before,
            after=state,
        )
        transaction.on_commit(lambda: permission_change_mail_send(event_id=event.pk))
    return event


def _comparable(state: Mapping[str, Any]) -> dict[str, Any]:
    keys = {*ASPECT_LABELS, "allowedDataActions"}
    return {key: value for key, value in state.items() if key in keys}


def _mirror_elevations(
    context: SyncContext, app: ManagedApplication, record: ManagedAppRecord
) -> None:
    """Upsert the app's JIT requests that carry a time window (for the 90-day timeline)."""
    listed = context.permissions.jit_requests
    if record.subscription_id not in listed:
        try:
            listed[record.subscription_id] = context.gateway.list_jit_requests(
                record.subscription_id
            )
        except (NotFound, Forbidden):
            listed[record.subscription_id] = []
    existing = context.permissions.elevations.get(app.pk, {})
    for request in listed[record.subscription_id]:
        if request.application_id.lower() != record.id.lower():
            continue
        values = elevation_values(request)
        if values is None:
            continue
        row = existing.get(request.id.lower())
        if row is None:
            elevation = Elevation(application=app, arm_id=request.id, **values)
            context.permissions.new_elevations.append(elevation)
        elif any(getattr(row, name) != value for name, value in values.items()):
            Elevation.objects.filter(pk=row.pk).update(**values)


# --- Differences in plain language ----------------------------------------------------------------


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
            f"Requests are now {_approval_words(new.get('approvalMode'))} "
            f"(they were {_approval_words(old.get('approvalMode'))})."
        )
    old_ids = {a["id"]: a for a in old.get("approvers", [])}
    new_ids = {a["id"]: a for a in new.get("approvers", [])}
    for key in sorted(new_ids.keys() - old_ids.keys()):
        lines.append(f"{new_ids[key].get('displayName') or key} was added as an approver.")
    for key in sorted(old_ids.keys() - new_ids.keys()):
        lines.append(f"{old_ids[key].get('displayName') or key} is no longer an approver.")
    if old.get("maximumDuration") != new.get("maximumDuration"):
        lines.append(
            f"The longest elevation changed from {_iso_words(old.get('maximumDuration'))} "
            f"to {_iso_words(new.get('maximumDuration'))}."
        )
    return lines


def _approval_words(mode: str | None) -> str:
    return {
        "ManualApprove": "approved by a person",
        "AutoApprove": "approved automatically",
    }.get(mode or "", "approved in an unspecified way")


def _iso_words(value: str | None) -> str:
    return pl.describe_duration(_seconds(value)) or "no limit"


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(isodate.parse_duration(value).total_seconds())
    except (isodate.ISO8601Error, AttributeError):
        return None


# --- Names for GUIDs ----------------------------------------------------------------------------


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


# --- Mail ----------------------------------------------------------------------------------------


def permission_change_mail_send(*, event_id: int) -> int:
    """E-mail one change to the customer tenant's admins, once; returns the messages sent."""
    claimed = PermissionChangeEvent.objects.filter(pk=event_id, mailed_at__isnull=True).update(
        mailed_at=timezone.now()
    )
    if not claimed:
        return 0
    event = PermissionChangeEvent.objects.select_related("application", "customer_tenant").get(
        pk=event_id
    )
    admins = (
        User.objects.filter(
            memberships__in=Membership.objects.usable().filter(
                tenant=event.customer_tenant, role=Role.CUSTOMER_ADMIN
            )
        )
        .exclude(email="")
        .distinct()
    )
    base = settings.PORTAL_BASE_URL
    context = {
        "event": event,
        "app": event.application,
        "url": base + reverse("permissions:app", args=[event.application.pk]),
        "feed_url": base + reverse("permissions:changes"),
    }
    subject = render_to_string("permissions/mail/change_subject.txt", context).strip()
    body = render_to_string("permissions/mail/change.txt", context)
    sent = 0
    try:
        for admin in admins:  # one message each: admins need not see each other's addresses
            sent += send_mail(subject, body, None, [admin.email], fail_silently=False)
    except OSError:
        # Give the claim back so the next round of `send_unsent_change_mails` sends it.
        PermissionChangeEvent.objects.filter(pk=event_id).update(mailed_at=None)
        log.exception("Could not e-mail permission change %s", event_id)
    return sent


# --- Reading: the picture a page shows ----------------------------------------------------------


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


def picture_of(
    state: Mapping[str, Any],
    *,
    viewer: User,
    audience: str,
    jit_offered: bool = False,
    has_p2: str = "unknown",
) -> Picture:
    """Work out the summary, the detail and the warnings for a state, for one viewer."""
    names = principal_names_for(state)
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
    max_words = _iso_words(policy.get("maximumDuration")) if jit_enabled else ""
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
    approval = _approval_words(policy.get("approvalMode"))
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
    excluded_names = principal_names(excluded_types)
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
            excluded_names.get(pid) or fallback_name(pid, kind)
            for pid, kind in excluded_types.items()
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
        seconds = _seconds(policy.get("maximumDuration"))
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


# --- The signed-in person's own rights ----------------------------------------------------------


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
    from portal.azure import gateway_for_token

    if not application.managed_resource_group_id:
        return PersonRights(
            None, [], [], [], error="The application has no managed resource group yet."
        )
    key = f"permissions:rights:{user.pk}:{application.pk}"
    cached = cache.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    try:
        with gateway_for_token(lambda: arm_access_token(user)) as gateway:
            granted = [
                _permission_json(p)
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


# --- The 90-day timeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    css: str
    title: str


@dataclass(frozen=True)
class Lane:
    label: str
    y: float
    bars: list[Bar]


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    left: int
    lanes: list[Lane]
    ticks: list[tuple[float, str]]
    changes: list[tuple[float, str]]
    start: dt.datetime
    end: dt.datetime


def timeline_of(
    application: ManagedApplication, picture: Picture, *, now: dt.datetime | None = None
) -> Timeline:
    """Standing access and every elevation of the last 90 days, laid out for an inline SVG."""
    end = now or timezone.now()
    start = end - dt.timedelta(days=TIMELINE_DAYS)
    left, plot, lane_height = 250, 650, 26
    span = (end - start).total_seconds()

    def x_of(moment: dt.datetime) -> float:
        moment = min(max(moment, start), end)
        return round(left + plot * (moment - start).total_seconds() / span, 1)

    lanes: list[Lane] = []
    snapshot = PermissionSnapshot.objects.filter(application=application).first()
    seen = application.first_seen_at if snapshot is None else snapshot.first_seen_at
    installed = picture.state.get("installedAt")
    if installed:
        seen = min(seen, dt.datetime.fromisoformat(installed))
    since = max(start, seen)
    for grant in picture.grants:
        standing = "Reader" if picture.jit_enabled else grant.role_name
        label = f"{_short(grant.principal_name)} · {standing}"
        bar = Bar(
            x_of(since),
            max(2.0, x_of(end) - x_of(since)),
            "standing",
            f"{grant.principal_name}: standing {standing} since {since:%Y-%m-%d}",
        )
        lanes.append(Lane(label, 0, [bar]))
    names = {g.principal_id: g.principal_name for g in picture.grants}
    roles = {g.role_id: g.role_name for g in picture.grants}
    by_pair: dict[tuple[str, str], list[Bar]] = {}
    elevations = application.elevations.since(start).filter(
        state__in=["Approved", "Expired", "Canceled"]
    )
    for elevation in elevations.order_by("start"):
        if elevation.start > end:
            continue
        who = names.get(elevation.principal_id) or fallback_name(elevation.principal_id)
        role = roles.get(elevation.role_definition_id, "a role")
        x = x_of(elevation.start)
        css = "active" if elevation.is_active(end) else "elevation"
        title = (
            f"{who}: {role} from {elevation.start:%Y-%m-%d %H:%M} to {elevation.end:%Y-%m-%d %H:%M}"
            f" UTC ({elevation.state})"
        )
        by_pair.setdefault((who, role), []).append(
            Bar(x, max(3.0, x_of(elevation.end) - x), css, title)
        )
    for (who, role), bars in by_pair.items():
        lanes.append(Lane(f"{_short(who)} · JIT {role}", 0, bars))
    lanes = [Lane(lane.label, 24 + i * lane_height, lane.bars) for i, lane in enumerate(lanes)]
    ticks = [
        (x_of(end - dt.timedelta(days=d)), (end - dt.timedelta(days=d)).strftime("%d %b"))
        for d in range(TIMELINE_DAYS, -1, -15)
    ]
    changes = [
        (x_of(event.at), f"{event.at:%Y-%m-%d}: " + " ".join(event.lines))
        for event in application.permission_changes.filter(at__gte=start)
    ]
    return Timeline(
        width=left + plot + 30,
        height=24 + lane_height * max(1, len(lanes)) + 24,
        left=left,
        lanes=lanes,
        ticks=ticks,
        changes=changes,
        start=start,
        end=end,
    )


# --- Pages ------------------------------------------------------------------------------------


def app_page(*, application: ManagedApplication, user: User) -> dict[str, Any]:
    """What the permission page of an application shows to this person."""
    from accounts import scoping

    is_customer = (
        scoping.customer_tenants_of(user).filter(pk=application.customer_tenant_id).exists()
    )
    snapshot = PermissionSnapshot.objects.filter(application=application).first()
    context: dict[str, Any] = {
        "app": application,
        "is_customer": is_customer,
        "is_publisher": not is_customer,
        "snapshot": snapshot,
        "changes": application.permission_changes.all()[:10],
    }
    if snapshot is None:
        return context
    picture = picture_of(
        snapshot.state,
        viewer=user,
        audience="customer" if is_customer else "publisher",
        jit_offered=bool(application.offer and application.offer.jit_offered),
        has_p2=application.customer_tenant.has_entra_p2,
    )
    now = timezone.now()
    active = [
        e
        for e in application.elevations.filter(state="Approved", end__gt=now, start__lte=now)
        if e.is_active(now)
    ]
    names = {g.principal_id: g.principal_name for g in picture.grants}
    roles = {g.role_id: g.role_name for g in picture.grants}
    context.update(
        picture=picture,
        rights=person_rights(application=application, user=user),
        active_elevations=[
            {
                "who": names.get(e.principal_id) or fallback_name(e.principal_id),
                "role": roles.get(e.role_definition_id, e.role_definition_id),
                "until": e.end,
            }
            for e in active
        ],
        timeline=timeline_of(application, picture, now=now),
    )
    return context


def offer_page(*, offer: Offer, user: User) -> dict[str, Any]:
    """What an offer exposes before install, for a customer judging it or its publisher."""
    from accounts import scoping

    is_publisher = (
        offer.publisher_tenant_id is not None
        and scoping.publisher_tenants_of(user).filter(pk=offer.publisher_tenant_id).exists()
    )
    picture = picture_of(
        state_for_offer(offer),
        viewer=user,
        audience="publisher" if is_publisher else "customer",
        jit_offered=offer.jit_offered,
    )
    # Before install the JIT settings are Azure's defaults, which the page explains once instead.
    picture.cautions = [c for c in picture.cautions if c.title == "Standing access"]
    return {
        "offer": offer,
        "picture": picture,
        "is_publisher": is_publisher,
        "is_customer": not is_publisher,
        "roles_unread": any(not g.permissions for g in picture.grants),
    }


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class OverviewRow:
    """One application in the overview: its permission model in a line."""

    app: ManagedApplication
    synced: bool
    publisher_always: str
    jit: str
    lock_level: str
    lock_label: str
    cautions: list[Caution]
    you_named: bool
    you_on_request: list[str]
    last_change: dt.datetime | None


def overview_rows(*, applications: Iterable[ManagedApplication], user: User) -> list[OverviewRow]:
    """The permission model of each application, in a line, for this person."""
    rows = []
    for app in applications:
        snapshot = PermissionSnapshot.objects.filter(application=app).first()
        if snapshot is None:
            rows.append(OverviewRow(app, False, "", "", "", "", [], False, [], None))
            continue
        picture = picture_of(
            snapshot.state,
            viewer=user,
            audience="customer",
            jit_offered=bool(app.offer and app.offer.jit_offered),
            has_p2=app.customer_tenant.has_entra_p2,
        )
        if picture.jit_enabled:
            who = ", ".join(picture.approvers) or "no approvers named"
            jit = (
                f"{picture.approval_words.capitalize()} ({who}), up to {picture.max_duration_words}"
            )
        else:
            jit = "Not used: standing access" if picture.state.get("jitPolicy") is None else "Off"
        rows.append(
            OverviewRow(
                app=app,
                synced=True,
                publisher_always=pl.join_phrases(picture.publisher_always) or "nothing",
                jit=jit,
                lock_level=picture.lock_level,
                lock_label=picture.lock_label,
                cautions=[c for c in picture.cautions if c.level != "info"],
                you_named=picture.you_named,
                you_on_request=[g.role_name for g in picture.grants if g.is_you]
                if picture.jit_enabled
                else [],
                last_change=snapshot.changed_at
                if snapshot.changed_at > snapshot.first_seen_at
                else None,
            )
        )
    return rows
