"""Microsoft.Authorization: role definitions and assignments, deny assignments, permissions, PIM."""

from typing import Any

from werkzeug.wrappers import Response

from emulator import authz, jit
from emulator.arm.core import (
    ArmContext,
    Route,
    forbidden,
    parse_filter,
    require_subscription,
    route,
)
from emulator.authz import DenyAssignment, everyone_principal
from emulator.http import ArmError, iso, json_response, not_found
from emulator.ids import stable_id
from emulator.records import Approval, RoleAssignment, RoleDefinition, ScheduleRequest
from emulator.state import State

P = "/providers/Microsoft.Authorization"


def _scope(ctx: ArmContext) -> str:
    """The canonical scope of a scoped route ("" is the tenant root)."""
    scope = "/" + ctx.params.get("scope", "").strip("/")
    scope = "" if scope == "/" else scope
    parts = scope.strip("/").split("/")
    if parts and parts[0].lower() == "subscriptions" and len(parts) >= 2:
        canonical = require_subscription(ctx.state, parts[1])
        parts[0], parts[1] = "subscriptions", canonical
        if len(parts) >= 4 and parts[2].lower() == "resourcegroups":
            rg = ctx.state.resource_groups.get(
                f"/subscriptions/{canonical}/resourcegroups/{parts[3]}".lower()
            )
            if rg is None:
                raise ArmError(
                    404, "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found."
                )
            parts[2], parts[3] = "resourceGroups", rg.name
        scope = "/" + "/".join(parts)
    return scope


def definition_id(scope: str, guid: str) -> str:
    return f"{scope}{P}/roleDefinitions/{guid}"


def _subscription_of(scope: str) -> str:
    parts = scope.strip("/").split("/")
    return (
        f"/subscriptions/{parts[1]}"
        if len(parts) >= 2 and parts[0].lower() == "subscriptions"
        else ""
    )


def role_definition_json(role: RoleDefinition, scope: str) -> dict[str, Any]:
    return {
        "id": definition_id(_subscription_of(scope), role.id),
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
                _subscription_of(assignment.scope), assignment.role_definition_id
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


# Role definitions -------------------------------------------------------------------------------


def list_role_definitions(ctx: ArmContext) -> Response:
    scope = _scope(ctx)
    wanted = parse_filter(ctx.query.get("$filter", ""))
    roles = list(ctx.state.role_definitions.values())
    if "rolename" in wanted:
        roles = [r for r in roles if r.name.lower() == wanted["rolename"].lower()]
    if "type" in wanted and wanted["type"].lower() != "builtinrole":
        roles = []
    return ctx.page([role_definition_json(r, scope) for r in roles])


def get_role_definition(ctx: ArmContext) -> Response:
    scope = _scope(ctx)
    role = ctx.state.role_definitions.get(ctx.params["guid"].lower())
    if role is None:
        raise ArmError(
            404,
            "RoleDefinitionDoesNotExist",
            "The specified role definition with ID '" + ctx.params["guid"] + "' does not exist.",
        )
    return json_response(role_definition_json(role, scope))


# Role assignments --------------------------------------------------------------------------------


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
    scope = _scope(ctx)
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
    scope = _scope(ctx)
    ctx.require("Microsoft.Authorization/roleAssignments/read", scope)
    name = ctx.params["name"].lower()
    for assignment in assignments_at(ctx.state, scope, include_below=False):
        if assignment.name == name and assignment.scope.lower() == scope.lower():
            return json_response(assignment_json(assignment))
    raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")


# Deny assignments ----------------------------------------------------------------------------------


def list_deny_assignments(ctx: ArmContext) -> Response:
    scope = _scope(ctx)
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
    scope = _scope(ctx)
    ctx.require("Microsoft.Authorization/denyAssignments/read", scope)
    for deny in authz.deny_assignments(ctx.state, authz.apps_covering(ctx.state, scope)):
        if deny.name == ctx.params["name"].lower():
            return json_response(deny_json(deny))
    raise ArmError(
        404, "DenyAssignmentNotFound", f"The deny assignment '{ctx.params['name']}' is not found."
    )


# Permissions ------------------------------------------------------------------------------------------


def list_permissions(ctx: ArmContext) -> Response:
    scope = _scope(ctx)
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


# Approvals (PIM, 2021-01-01-preview) --------------------------------------------------------------------


def _approval_prefix(ctx: ArmContext) -> str:
    return _scope(ctx) if ctx.params.get("scope") else ""


def stage_json(ctx: ArmContext, approval: Approval, prefix: str) -> dict[str, Any]:
    return {
        "id": f"{prefix}{P}/roleAssignmentApprovals/{approval.id}/stages/{approval.stage_id}",
        "name": approval.stage_id,
        "type": "Microsoft.Authorization/roleAssignmentApprovals/stages",
        "properties": {
            "displayName": "Approve just-in-time access to a managed application",
            "status": approval.status,
            "assignedToMe": jit.is_approver(ctx.state, approval, ctx.principal.oid)
            and approval.status == "InProgress",
            "reviewedBy": dict(approval.reviewed_by) if approval.reviewed_by else None,
            "reviewedDateTime": iso(approval.reviewed_at),
            "reviewResult": approval.review_result,
            "justification": approval.justification,
        },
    }


def approval_json(ctx: ArmContext, approval: Approval, prefix: str) -> dict[str, Any]:
    return {
        "id": f"{prefix}{P}/roleAssignmentApprovals/{approval.id}",
        "name": approval.id,
        "type": "Microsoft.Authorization/roleAssignmentApprovals",
        "properties": {"stages": [stage_json(ctx, approval, prefix)]},
    }


def _visible_approvals(ctx: ArmContext, prefix: str) -> list[Approval]:
    wanted = parse_filter(ctx.query.get("$filter", ""))
    oid = ctx.principal.oid
    result = []
    for approval in ctx.state.approvals.values():
        if prefix and not authz.scope_within(approval.scope, prefix):
            continue
        request = ctx.state.jit_requests.get(approval.jit_request_id.lower())
        targets = {p["principalId"] for p in request.policies} if request else set()
        roles = {
            "asapprover()": jit.is_approver(ctx.state, approval, oid)
            and approval.tenant_id == ctx.principal.tenant_id,
            "ascreatedby()": approval.requestor_id == oid,
            "astarget()": oid in targets,
        }
        chosen = [v for k, v in roles.items() if k in wanted]
        if (chosen and all(chosen)) or (not chosen and any(roles.values())):
            result.append(approval)
    result.sort(key=lambda a: a.created_at)
    return result


def list_approvals(ctx: ArmContext) -> Response:
    prefix = _approval_prefix(ctx)
    return ctx.page([approval_json(ctx, a, prefix) for a in _visible_approvals(ctx, prefix)])


def _find_approval(ctx: ArmContext) -> Approval:
    approval = ctx.state.approvals.get(ctx.params["approval"].lower())
    if approval is None or approval not in _visible_approvals(ctx, _approval_prefix(ctx)):
        raise ArmError(
            404, "ApprovalNotFound", f"The approval '{ctx.params['approval']}' was not found."
        )
    return approval


def get_approval(ctx: ArmContext) -> Response:
    return json_response(approval_json(ctx, _find_approval(ctx), _approval_prefix(ctx)))


def list_stages(ctx: ArmContext) -> Response:
    approval = _find_approval(ctx)
    return json_response({"value": [stage_json(ctx, approval, _approval_prefix(ctx))]})


def stage(ctx: ArmContext) -> Response:
    approval = _find_approval(ctx)
    prefix = _approval_prefix(ctx)
    if ctx.params["stage"].lower() != approval.stage_id:
        raise ArmError(
            404,
            "ApprovalStageNotFound",
            f"The approval stage '{ctx.params['stage']}' was not found.",
        )
    if ctx.method == "GET":
        return json_response(stage_json(ctx, approval, prefix))
    body = ctx.body()
    values = body.get("properties") if isinstance(body.get("properties"), dict) else body
    result = values.get("reviewResult")
    justification = str(values.get("justification") or "").strip()
    if result not in ("Approve", "Deny"):
        raise ArmError(400, "InvalidRequestContent", "'reviewResult' must be 'Approve' or 'Deny'.")
    if not justification:
        raise ArmError(
            400, "JustificationRequired", "A justification is required to review this request."
        )
    if (
        not jit.is_approver(ctx.state, approval, ctx.principal.oid)
        or approval.tenant_id != ctx.principal.tenant_id
    ):
        raise forbidden(
            ctx, "Microsoft.Authorization/roleAssignmentApprovals/stages/write", approval.scope
        )
    if approval.requestor_id == ctx.principal.oid:
        raise ArmError(
            403, "SelfApprovalNotAllowed", "The requestor of an access request cannot approve it."
        )
    if (
        approval.status == "Completed"
        and approval.review_result == result
        and approval.reviewed_by
        and approval.reviewed_by["principalId"] == ctx.principal.oid
    ):
        return json_response(stage_json(ctx, approval, prefix))  # a retried decision
    if approval.status != "InProgress":
        raise ArmError(
            409,
            "ApprovalStageNotInProgress",
            f"The approval stage is '{approval.status}' and cannot be reviewed.",
        )
    request = ctx.state.jit_requests.get(approval.jit_request_id.lower())
    if request is None:
        raise ArmError(409, "Conflict", "The access request of this approval no longer exists.")
    jit.decide(
        ctx.state,
        request,
        approve=result == "Approve",
        by_oid=ctx.principal.oid,
        justification=justification,
        at=ctx.state.now(),
    )
    jit.tick(ctx.state)
    return json_response(stage_json(ctx, approval, prefix))


# Role assignment schedule requests (PIM, 2020-10-01) ----------------------------------------------------


def schedule_request_json(state: State, request: ScheduleRequest) -> dict[str, Any]:
    role = state.role_definitions.get(request.role_definition_id)
    jit_request = state.jit_requests.get((request.jit_request_id or "").lower())
    return {
        "id": request.id,
        "name": request.name,
        "type": "Microsoft.Authorization/RoleAssignmentScheduleRequests",
        "properties": {
            "targetRoleAssignmentScheduleId": request.name,
            "targetRoleAssignmentScheduleInstanceId": None,
            "scope": request.scope,
            "roleDefinitionId": definition_id(
                _subscription_of(request.scope), request.role_definition_id
            ),
            "principalId": request.principal_id,
            "principalType": request.principal_type,
            "requestType": request.request_type,
            "status": request.status,
            "approvalId": request.approval_id,
            "scheduleInfo": {
                "startDateTime": iso(request.start),
                "expiration": {
                    "type": "AfterDuration",
                    "endDateTime": None,
                    "duration": request.duration_text,
                },
            },
            "ticketInfo": {
                "ticketNumber": jit_request.name if jit_request else None,
                "ticketSystem": "Microsoft.Solutions/jitRequests" if jit_request else None,
            },
            "justification": request.justification,
            "requestorId": request.requestor_id,
            "createdOn": iso(request.created_on),
            "condition": None,
            "conditionVersion": None,
            "expandedProperties": {
                "scope": {
                    "id": request.scope,
                    "displayName": request.scope.rsplit("/", 1)[-1],
                    "type": "resourcegroup",
                },
                "roleDefinition": {
                    "id": definition_id(
                        _subscription_of(request.scope), request.role_definition_id
                    ),
                    "displayName": role.name if role else request.role_definition_id,
                    "type": "BuiltInRole",
                },
                "principal": {
                    "id": request.principal_id,
                    "displayName": state.principal_name(request.principal_id),
                    "email": state.people[request.principal_id].upn
                    if request.principal_id in state.people
                    else None,
                    "type": request.principal_type,
                },
            },
        },
    }


def _schedule_requests_visible(ctx: ArmContext, scope: str) -> list[ScheduleRequest]:
    wanted = parse_filter(ctx.query.get("$filter", ""))
    oid = ctx.principal.oid
    can_read = ctx.allowed(
        "Microsoft.Authorization/roleAssignmentScheduleRequests/read", scope or "/"
    )
    found = []
    for request in ctx.state.schedule_requests.values():
        if "atscope()" in wanted:
            if request.scope.lower() != scope.lower():
                continue
        elif scope and not (
            authz.scope_within(request.scope, scope) or authz.scope_within(scope, request.scope)
        ):
            continue
        approval = (
            ctx.state.approvals.get(request.approval_id.rsplit("/", 1)[-1])
            if request.approval_id
            else None
        )
        mine = {
            "asrequestor()": request.requestor_id == oid,
            "astarget()": request.principal_id == oid,
            "asapprover()": bool(approval and jit.is_approver(ctx.state, approval, oid)),
        }
        chosen = [v for k, v in mine.items() if k in wanted]
        if chosen and not all(chosen):
            continue
        if not chosen and not (can_read or any(mine.values())):
            continue
        if "principalid" in wanted and request.principal_id != wanted["principalid"].lower():
            continue
        found.append(request)
    found.sort(key=lambda r: r.created_on)
    return found


def list_schedule_requests(ctx: ArmContext) -> Response:
    scope = _scope(ctx)
    return ctx.page(
        [schedule_request_json(ctx.state, r) for r in _schedule_requests_visible(ctx, scope)]
    )


def get_schedule_request(ctx: ArmContext) -> Response:
    scope = _scope(ctx)
    request = ctx.state.schedule_requests.get(ctx.params["name"].lower())
    if request is None or request not in _schedule_requests_visible(ctx, scope):
        raise not_found(
            "Microsoft.Authorization/roleAssignmentScheduleRequests", ctx.params["name"]
        )
    return json_response(schedule_request_json(ctx.state, request))


def cancel_schedule_request(ctx: ArmContext) -> Response:
    request = ctx.state.schedule_requests.get(ctx.params["name"].lower())
    if request is None:
        raise not_found(
            "Microsoft.Authorization/roleAssignmentScheduleRequests", ctx.params["name"]
        )
    if request.requestor_id != ctx.principal.oid:
        raise forbidden(
            ctx,
            "Microsoft.Authorization/roleAssignmentScheduleRequests/cancel/action",
            request.scope,
        )
    if request.status != "PendingApproval":
        raise ArmError(
            400,
            "InvalidRoleAssignmentRequest",
            f"The request is '{request.status}' and cannot be canceled.",
        )
    jit_request = ctx.state.jit_requests.get((request.jit_request_id or "").lower())
    if jit_request is not None:
        jit.cancel(ctx.state, jit_request, ctx.state.now())
    request.status = "Canceled"
    return json_response(None, 200)


def list_eligibility_schedules(ctx: ArmContext) -> Response:
    """JIT-eligible (principal, role) pairs: the authorizations of JIT-enabled apps, on their MRG."""
    scope = _scope(ctx)
    wanted = parse_filter(ctx.query.get("$filter", ""))
    target = wanted.get("assignedto()", "").lower() or (
        ctx.principal.oid if "astarget()" in wanted else ""
    )
    can_read = ctx.allowed("Microsoft.Authorization/roleEligibilitySchedules/read", scope or "/")
    apps = {
        a.id: a
        for a in authz.apps_covering(ctx.state, scope)
        + (authz.apps_within(ctx.state, scope) if scope else [])
    }
    items = []
    for app in apps.values():
        if not app.jit_enabled:
            continue
        for auth in app.authorizations:
            principal, role_guid = auth["principalId"], auth["roleDefinitionId"]
            if (target and principal != target) or not (can_read or principal == ctx.principal.oid):
                continue
            name = stable_id("eligibility", app.id, principal, role_guid)
            role = ctx.state.role_definitions.get(role_guid)
            role_id = definition_id(_subscription_of(app.managed_resource_group_id), role_guid)
            items.append(
                {
                    "id": f"{app.managed_resource_group_id}{P}/roleEligibilitySchedules/{name}",
                    "name": name,
                    "type": "Microsoft.Authorization/RoleEligibilitySchedules",
                    "properties": {
                        "scope": app.managed_resource_group_id,
                        "roleDefinitionId": role_id,
                        "principalId": principal,
                        "principalType": ctx.state.principal_type(principal),
                        "status": "Provisioned",
                        "roleEligibilityScheduleRequestId": f"{app.managed_resource_group_id}{P}/RoleEligibilityScheduleRequests/{name}",
                        "startDateTime": iso(app.created_at),
                        "endDateTime": None,
                        "memberType": "Direct",
                        "createdOn": iso(app.created_at),
                        "updatedOn": iso(app.updated_at),
                        "condition": None,
                        "conditionVersion": None,
                        "expandedProperties": {
                            "scope": {
                                "id": app.managed_resource_group_id,
                                "displayName": app.managed_resource_group_id.rsplit("/", 1)[-1],
                                "type": "resourcegroup",
                            },
                            "roleDefinition": {
                                "id": role_id,
                                "displayName": role.name if role else role_guid,
                                "type": "BuiltInRole",
                            },
                            "principal": {
                                "id": principal,
                                "displayName": ctx.state.principal_name(principal),
                                "email": ctx.state.people[principal].upn
                                if principal in ctx.state.people
                                else None,
                                "type": ctx.state.principal_type(principal),
                            },
                        },
                    },
                }
            )
    return ctx.page(items)


def routes() -> list[Route]:
    rbac, pim = "rbac", "pim"
    approvals = "approvals"
    return [
        route("GET", "{scope}" + P + "/roleEligibilitySchedules", list_eligibility_schedules, pim),
        route("GET", "{scope}" + P + "/roleDefinitions", list_role_definitions, rbac),
        route("GET", "{scope}" + P + "/roleDefinitions/{guid}", get_role_definition, rbac),
        route("GET", "{scope}" + P + "/roleAssignments", list_role_assignments, rbac),
        route("GET", "{scope}" + P + "/roleAssignments/{name}", get_role_assignment, rbac),
        route("GET", "{scope}" + P + "/denyAssignments", list_deny_assignments, rbac),
        route("GET", "{scope}" + P + "/denyAssignments/{name}", get_deny_assignment, rbac),
        route("GET", "{scope}" + P + "/permissions", list_permissions, rbac),
        route("GET", "{scope}" + P + "/roleAssignmentApprovals", list_approvals, approvals),
        route(
            "GET", "{scope}" + P + "/roleAssignmentApprovals/{approval}", get_approval, approvals
        ),
        route(
            "GET",
            "{scope}" + P + "/roleAssignmentApprovals/{approval}/stages",
            list_stages,
            approvals,
        ),
        route(
            "GET PUT PATCH",
            "{scope}" + P + "/roleAssignmentApprovals/{approval}/stages/{stage}",
            stage,
            approvals,
        ),
        route(
            "GET", "{scope}" + P + "/roleAssignmentScheduleRequests", list_schedule_requests, pim
        ),
        route(
            "GET",
            "{scope}" + P + "/roleAssignmentScheduleRequests/{name}",
            get_schedule_request,
            pim,
        ),
        route(
            "POST",
            "{scope}" + P + "/roleAssignmentScheduleRequests/{name}/cancel",
            cancel_schedule_request,
            pim,
        ),
    ]
