"""Microsoft.Authorization RBAC: role definitions, role assignments (with the ones managed apps
project), deny assignments and the caller's permissions. The rules live in `emulator.authz`."""

from typing import Any

from werkzeug.wrappers import Response

from emulator import authz
from emulator.arm.core import ArmContext, Route, canonical_scope, parse_filter, route
from emulator.authz import DenyAssignment, everyone_principal
from emulator.http import ArmError, iso, json_response
from emulator.records import RoleAssignment, RoleDefinition
from emulator.state import State

P = "/providers/Microsoft.Authorization"


def definition_id(scope: str, guid: str) -> str:
    return f"{scope}{P}/roleDefinitions/{guid}"


def subscription_scope(scope: str) -> str:
    """The subscription part of a scope ("/subscriptions/{id}"), or "" above subscriptions."""
    parts = scope.strip("/").split("/")
    return (
        f"/subscriptions/{parts[1]}"
        if len(parts) >= 2 and parts[0].lower() == "subscriptions"
        else ""
    )


def role_definition_json(role: RoleDefinition, scope: str) -> dict[str, Any]:
    return {
        "id": definition_id(subscription_scope(scope), role.id),
        "name": role.id,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role.name,
            "type": "BuiltInRole",
            "description": role.description,
            "assignableScopes": ["/"],
            "permissions": [
                {
                    "actions": list(role.actions),
                    "notActions": list(role.not_actions),
                    "dataActions": list(role.data_actions),
                    "notDataActions": list(role.not_data_actions),
                }
            ],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2024-01-01T00:00:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }


def assignment_json(assignment: RoleAssignment) -> dict[str, Any]:
    return {
        "id": assignment.id,
        "name": assignment.name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": definition_id(
                subscription_scope(assignment.scope), assignment.role_definition_id
            ),
            "principalId": assignment.principal_id,
            "principalType": assignment.principal_type,
            "scope": assignment.scope,
            "description": assignment.description,
            "condition": None,
            "conditionVersion": None,
            "createdOn": iso(assignment.created_on),
            "updatedOn": iso(assignment.created_on),
            "createdBy": None,
            "updatedBy": None,
            "delegatedManagedIdentityResourceId": None,
        },
    }


def deny_json(deny: DenyAssignment) -> dict[str, Any]:
    return {
        "id": deny.id,
        "name": deny.name,
        "type": "Microsoft.Authorization/denyAssignments",
        "properties": {
            "denyAssignmentName": deny.display_name,
            "description": "Created by Microsoft.Solutions to lock the managed resource group.",
            "permissions": [
                {
                    "actions": deny.actions,
                    "notActions": deny.not_actions,
                    "dataActions": deny.data_actions,
                    "notDataActions": deny.not_data_actions,
                }
            ],
            "scope": deny.scope,
            "doNotApplyToChildScopes": False,
            "principals": [everyone_principal()],
            "excludePrincipals": deny.exclude_principals,
            "isSystemProtected": True,
            "condition": None,
            "conditionVersion": None,
        },
    }


def list_role_definitions(ctx: ArmContext) -> Response:
    scope = canonical_scope(ctx)
    wanted = parse_filter(ctx.query.get("$filter", ""))
    roles = list(ctx.state.role_definitions.values())
    if "rolename" in wanted:
        roles = [r for r in roles if r.name.lower() == wanted["rolename"].lower()]
    if "type" in wanted and wanted["type"].lower() != "builtinrole":
        roles = []
    return ctx.page([role_definition_json(r, scope) for r in roles])


def get_role_definition(ctx: ArmContext) -> Response:
    scope = canonical_scope(ctx)
    role = ctx.state.role_definitions.get(ctx.params["guid"].lower())
    if role is None:
        raise ArmError(
            404,
            "RoleDefinitionDoesNotExist",
            "The specified role definition with ID '" + ctx.params["guid"] + "' does not exist.",
        )
    return json_response(role_definition_json(role, scope))


def assignments_at(state: State, scope: str, *, include_below: bool) -> list[RoleAssignment]:
    """Assignments at or above `scope`, and optionally below it (as ARM lists them)."""
    candidates = state.assignments_near(scope)
    apps = authz.apps_covering(state, scope) + (
        authz.apps_within(state, scope) if include_below and scope else []
    )
    seen: set[str] = set()
    for app in apps:
        if app.id not in seen:
            seen.add(app.id)
            candidates.extend(authz.projected_for(state, app))
    return [
        a
        for a in candidates
        if authz.scope_within(scope, a.scope)
        or (include_below and authz.scope_within(a.scope, scope))
    ]


def list_role_assignments(ctx: ArmContext) -> Response:
    scope = canonical_scope(ctx)
    ctx.require("Microsoft.Authorization/roleAssignments/read", scope)
    wanted = parse_filter(ctx.query.get("$filter", ""))
    found = assignments_at(ctx.state, scope, include_below="atscope()" not in wanted)
    if "atscope()" in wanted:
        found = [a for a in found if authz.scope_within(scope, a.scope)]
    principal = wanted.get("principalid") or wanted.get("assignedto()")
    if principal:
        ids = {principal.lower(), *ctx.state.groups_of(principal.lower())}
        found = [a for a in found if a.principal_id.lower() in ids]
    found.sort(key=lambda a: (a.scope.lower(), a.name))
    return ctx.page([assignment_json(a) for a in found])


def get_role_assignment(ctx: ArmContext) -> Response:
    scope = canonical_scope(ctx)
    ctx.require("Microsoft.Authorization/roleAssignments/read", scope)
    name = ctx.params["name"].lower()
    for assignment in assignments_at(ctx.state, scope, include_below=False):
        if assignment.name == name and assignment.scope.lower() == scope.lower():
            return json_response(assignment_json(assignment))
    raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")


def list_deny_assignments(ctx: ArmContext) -> Response:
    scope = canonical_scope(ctx)
    ctx.require("Microsoft.Authorization/denyAssignments/read", scope)
    wanted = parse_filter(ctx.query.get("$filter", ""))
    apps = authz.apps_covering(ctx.state, scope) + authz.apps_within(ctx.state, scope)
    found: dict[str, DenyAssignment] = {d.id: d for d in authz.deny_assignments(ctx.state, apps)}
    denies = list(found.values())
    if "atscope()" in wanted:
        denies = [d for d in denies if authz.scope_within(scope, d.scope)]
    if "denyassignmentname" in wanted:
        denies = [
            d for d in denies if d.display_name.lower() == wanted["denyassignmentname"].lower()
        ]
    return ctx.page([deny_json(d) for d in denies])


def get_deny_assignment(ctx: ArmContext) -> Response:
    scope = canonical_scope(ctx)
    ctx.require("Microsoft.Authorization/denyAssignments/read", scope)
    for deny in authz.deny_assignments(ctx.state, authz.apps_covering(ctx.state, scope)):
        if deny.name == ctx.params["name"].lower():
            return json_response(deny_json(deny))
    raise ArmError(
        404, "DenyAssignmentNotFound", f"The deny assignment '{ctx.params['name']}' is not found."
    )


def list_permissions(ctx: ArmContext) -> Response:
    scope = canonical_scope(ctx)
    entries = []
    for assignment in authz.assignments_of(ctx.state, ctx.principal, scope):
        role = ctx.state.role_definitions.get(assignment.role_definition_id)
        if role is not None:
            entries.append(
                {
                    "actions": list(role.actions),
                    "notActions": list(role.not_actions),
                    "dataActions": list(role.data_actions),
                    "notDataActions": list(role.not_data_actions),
                }
            )
    return ctx.page(entries)


def routes() -> list[Route]:
    rbac = "rbac"
    return [
        route("GET", "{scope}" + P + "/roleDefinitions", list_role_definitions, rbac),
        route("GET", "{scope}" + P + "/roleDefinitions/{guid}", get_role_definition, rbac),
        route("GET", "{scope}" + P + "/roleAssignments", list_role_assignments, rbac),
        route("GET", "{scope}" + P + "/roleAssignments/{name}", get_role_assignment, rbac),
        route("GET", "{scope}" + P + "/denyAssignments", list_deny_assignments, rbac),
        route("GET", "{scope}" + P + "/denyAssignments/{name}", get_deny_assignment, rbac),
        route("GET", "{scope}" + P + "/permissions", list_permissions, rbac),
    ]
