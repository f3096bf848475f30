"""Microsoft.Authorization PIM: role assignment approvals and their stages, role assignment
schedule requests, and role eligibility schedules (the authorizations of JIT-enabled apps).

Approvals and schedule requests exist only with the `pim-link` assumption (docs/emulator.md)."""

from typing import Any

from werkzeug.wrappers import Response

from emulator import authz, jit
from emulator.arm.core import ArmContext, Route, canonical_scope, forbidden, parse_filter, route
from emulator.arm.rbac import P, definition_id, subscription_scope
from emulator.http import ArmError, iso, json_response, not_found
from emulator.ids import stable_id
from emulator.records import Approval, ScheduleRequest
from emulator.state import State


def _approval_prefix(ctx: ArmContext) -> str:
    return canonical_scope(ctx) if ctx.params.get("scope") else ""


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
    properties = body.get("properties")
    values: dict[str, Any] = properties if isinstance(properties, dict) else body
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
                subscription_scope(request.scope), request.role_definition_id
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
                        subscription_scope(request.scope), request.role_definition_id
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
    scope = canonical_scope(ctx)
    return ctx.page(
        [schedule_request_json(ctx.state, r) for r in _schedule_requests_visible(ctx, scope)]
    )


def get_schedule_request(ctx: ArmContext) -> Response:
    scope = canonical_scope(ctx)
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
    scope = canonical_scope(ctx)
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
            role_id = definition_id(subscription_scope(app.managed_resource_group_id), role_guid)
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
    pim, approvals = "pim", "approvals"
    return [
        route("GET", "{scope}" + P + "/roleEligibilitySchedules", list_eligibility_schedules, pim),
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
