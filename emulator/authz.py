"""Who may do what: role assignments, the managed apps' authorizations and their deny assignments."""

import fnmatch
from dataclasses import dataclass

from emulator.ids import stable_id, subscription_of
from emulator.records import Application, RoleAssignment, RoleDefinition
from emulator.roles import READER
from emulator.state import State

EVERYONE = "00000000-0000-0000-0000-000000000000"  # the principal id of "Everyone"


@dataclass(frozen=True)
class Principal:
    """The caller of an ARM request, taken from its verified access token."""

    oid: str
    tenant_id: str
    app_id: str
    name: str
    is_app: bool


@dataclass(frozen=True)
class DenyAssignment:
    id: str
    name: str
    display_name: str
    scope: str
    actions: list[str]
    not_actions: list[str]
    data_actions: list[str]
    not_data_actions: list[str]
    exclude_principals: list[dict[str, str]]


def action_matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def role_allows(role: RoleDefinition, action: str) -> bool:
    allowed = any(action_matches(p, action) for p in role.actions)
    return allowed and not any(action_matches(p, action) for p in role.not_actions)


def scope_within(target: str, scope: str) -> bool:
    """True when `scope` is `target` itself or one of its ancestors."""
    target = target.lower().rstrip("/")
    scope = scope.lower().rstrip("/")
    return scope in ("", "/") or target == scope or target.startswith(scope + "/")


def standing_role(app: Application, role_definition_id: str) -> str:
    """With JIT on, the publisher keeps read-only standing access and must request elevation."""
    return READER if app.jit_enabled else role_definition_id


def projected_for(state: State, app: Application) -> list[RoleAssignment]:
    """Role assignments Microsoft.Solutions projects for the publisher on one managed app."""
    if app.management_mode == "Unmanaged" or app.provisioning_state in ("Deleting", "Deleted"):
        return []
    projected: list[RoleAssignment] = []
    for auth in app.authorizations:
        principal = auth["principalId"]
        # Publisher principals may also read the application resource itself (webhook checks).
        for scope, role in (
            (app.managed_resource_group_id, standing_role(app, auth["roleDefinitionId"])),
            (app.id, READER),
        ):
            projected.append(
                RoleAssignment(
                    name=stable_id(scope, principal, role),
                    scope=scope,
                    role_definition_id=role,
                    principal_id=principal,
                    principal_type=state.principal_type(principal),
                    created_on=app.created_at,
                    description=f"Managed application authorization for {app.id}",
                    source="authorization",
                )
            )
    return projected


def apps_covering(state: State, scope: str) -> list[Application]:
    """Applications whose managed RG or resource id is `scope` or one of its ancestors."""
    found = [state.application_for_mrg(scope), state.application_at(scope)]
    return [app for app in found if app is not None]


def apps_within(state: State, scope: str) -> list[Application]:
    subscription = subscription_of(scope)
    candidates = (
        state.apps_in_subscription(subscription)
        if subscription
        else list(state.applications.values())
    )
    return [
        app
        for app in candidates
        if scope_within(app.managed_resource_group_id, scope) or scope_within(app.id, scope)
    ]


def deny_assignment_for(state: State, app: Application) -> DenyAssignment | None:
    if app.lock_level == "None" or app.provisioning_state in ("Deleted",):
        return None
    excluded = {a["principalId"] for a in app.authorizations}
    for jit in state.jit_requests_of(app.id):
        if jit.grant_ids:
            excluded.update(p["principalId"] for p in jit.policies)
    actions = ["*"] if app.lock_level == "ReadOnly" else ["*/delete"]
    name = stable_id("deny", app.id)
    return DenyAssignment(
        id=f"{app.managed_resource_group_id}/providers/Microsoft.Authorization/denyAssignments/{name}",
        name=name,
        display_name=f"System deny assignment created by managed application {app.id}",
        scope=app.managed_resource_group_id,
        actions=actions,
        not_actions=["*/read", *app.allowed_actions],
        data_actions=["*"] if app.lock_level == "ReadOnly" else [],
        not_data_actions=list(app.allowed_data_actions),
        exclude_principals=[
            {"id": oid, "type": state.principal_type(oid)} for oid in sorted(excluded)
        ],
    )


def deny_assignments(state: State, apps: list[Application]) -> list[DenyAssignment]:
    found = (deny_assignment_for(state, app) for app in apps)
    return [d for d in found if d is not None]


def principal_ids(state: State, principal: Principal) -> set[str]:
    return {principal.oid, *state.groups_of(principal.oid)}


def assignments_of(state: State, principal: Principal, scope: str) -> list[RoleAssignment]:
    """The caller's role assignments that apply at `scope` (assigned there or above)."""
    ids = principal_ids(state, principal)
    candidates = state.assignments_for_principals(ids)
    for app in apps_covering(state, scope):
        candidates.extend(projected_for(state, app))
    return [a for a in candidates if a.principal_id in ids and scope_within(scope, a.scope)]


def is_allowed(state: State, principal: Principal, action: str, scope: str) -> bool:
    for assignment in assignments_of(state, principal, scope):
        role = state.role_definitions.get(assignment.role_definition_id)
        if role and role_allows(role, action):
            return True
    return False


def blocking_deny(
    state: State, principal: Principal, action: str, scope: str
) -> DenyAssignment | None:
    ids = principal_ids(state, principal)
    for deny in deny_assignments(state, apps_covering(state, scope)):
        if not scope_within(scope, deny.scope):
            continue
        if ids & {p["id"] for p in deny.exclude_principals}:
            continue
        hit = any(action_matches(p, action) for p in deny.actions)
        if hit and not any(action_matches(p, action) for p in deny.not_actions):
            return deny
    return None


def everyone_principal() -> dict[str, str]:
    return {"id": EVERYONE, "type": "SystemDefined"}


def subscriptions_to_consider(state: State, principal: Principal) -> list[str]:
    """Subscriptions in which the caller holds some assignment or a managed app authorization."""
    ids = principal_ids(state, principal)
    found: set[str] = set()
    for assignment in state.assignments_for_principals(ids):
        subscription = subscription_of(assignment.scope)
        if not subscription:
            return list(state.subscriptions)  # an assignment above all subscriptions
        found.add(subscription)
    for principal_id in ids:
        for key in state.apps_by_principal.get(principal_id.lower(), ()):
            app = state.applications.get(key)
            if app is not None:
                found.add(app.subscription_id.lower())
    return [key for key in state.subscriptions if key.lower() in found]
