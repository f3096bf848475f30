"""The permission snapshot the sync keeps per application.

For each application the sync reads the role definitions behind the publisher's authorizations,
builds one comparable picture (the "state") of the authorizations, their roles' actions, the JIT
policy, the deny assignment, the lock and the customer's allowed actions, and compares it with the
stored snapshot. A difference writes the snapshot and one PermissionChangeEvent, claimed once, and
queues its mail. Nothing is written when nothing changed, like the rest of the mirror. The JIT
requests with a time window are kept as Elevations for the timeline.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import isodate
from django.db import transaction
from django.db.models import QuerySet

from azure_gateway import Forbidden, NotFound
from azure_gateway.records import (
    DenyAssignmentRecord,
    JitRequestRecord,
    ManagedAppRecord,
    PermissionSet,
    RoleDefinitionRecord,
)
from deployments.elevations import elevation_values
from deployments.models import (
    Elevation,
    LockLevel,
    ManagedApplication,
    PermissionChangeEvent,
    PermissionSnapshot,
    RoleDefinition,
)
from deployments.upsert import upsert

if TYPE_CHECKING:
    from deployments.sync import SyncContext

from deployments.permissions.changes import ASPECT_LABELS, describe_changes
from deployments.permissions.mail import permission_change_mail_send
from deployments.permissions.names import principal_names_for
from deployments.permissions.picture import max_jit_hours
from deployments.permissions.risk import assess

# Built-in roles are Microsoft's and the same in every tenant, so one read serves every tenant's
# sync for a while; custom roles belong to one tenant and are read by each of its syncs.
BUILT_IN_ROLE_MAX_AGE = dt.timedelta(hours=1)
BUILT_IN = "BuiltInRole"


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
                application=app,
                state=state,
                risk_score=risk_score(state),
                first_seen_at=context.now,
                changed_at=context.now,
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


def permission_json(entry: PermissionSet) -> dict[str, list[str]]:
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
        "permissions": [permission_json(p) for p in role.permissions],
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
        permissions = [permission_json(p) for p in deny.permissions]
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
                "permissions": [permission_json(p) for p in role.permissions],
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
        PermissionSnapshot.objects.filter(pk=snapshot.pk).update(
            state=state, risk_score=risk_score(state)
        )
        return None
    aspects, lines = describe_changes(before, state, names=principal_names_for(before, state))
    with transaction.atomic():
        # Claim the change: of two syncs that saw the same old state, only one records it.
        claimed = PermissionSnapshot.objects.filter(pk=snapshot.pk, state=before).update(
            state=state, risk_score=risk_score(state), changed_at=now
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


def risk_score(state: Mapping[str, Any]) -> int:
    return assess(state, max_hours=max_jit_hours()).score


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
