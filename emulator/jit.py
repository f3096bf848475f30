"""The JIT access state machine, driven by requests, decisions and the scenario clock."""

import datetime as dt
import functools
import heapq
import time
from typing import Any

import isodate

from emulator.authz import Principal
from emulator.http import ArmError
from emulator.ids import new_id, stable_id
from emulator.records import Application, Approval, JitRequest, RoleAssignment, ScheduleRequest
from emulator.state import State

TERMINAL_STATES = {"Denied", "Failed", "Canceled", "Expired", "Timeout"}


@functools.lru_cache(maxsize=256)
def _iso_duration(text: str) -> Any:
    return isodate.parse_duration(text)


def parse_duration(text: Any) -> dt.timedelta:
    if not isinstance(text, str):
        raise ArmError(400, "InvalidRequestContent", "The 'duration' must be an ISO 8601 duration.")
    try:
        value = _iso_duration(text)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"The value '{text}' of 'jitSchedulingPolicy.duration' is not a valid ISO 8601 duration.",
        ) from exc
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise ArmError(
            400, "InvalidRequestContent", f"The duration '{text}' must be a positive time span."
        )
    return value


def parse_time(text: Any) -> dt.datetime:
    if not isinstance(text, str):
        raise ArmError(400, "InvalidRequestContent", "The 'startTime' must be a date-time string.")
    try:
        value: dt.datetime = isodate.parse_datetime(text)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise ArmError(
            400, "InvalidRequestContent", f"The value '{text}' is not a valid date-time."
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def eligible_pairs(app: Application) -> set[tuple[str, str]]:
    return {(a["principalId"].lower(), a["roleDefinitionId"].lower()) for a in app.authorizations}


def role_guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").split("/")[-1].lower()


def create_request(
    state: State,
    *,
    subscription_id: str,
    resource_group: str,
    name: str,
    location: str | None,
    app: Application,
    policies: list[dict[str, str]],
    schedule_type: str,
    start: dt.datetime,
    duration_text: object,
    caller: Principal,
    at: dt.datetime,
) -> JitRequest:
    """Validate and record a new JIT request; returns it Pending, Approved or Failed.

    `duration_text` is the duration as the caller sent it: anything but an ISO 8601 text is a 400.
    """
    duration = parse_duration(duration_text)
    text = str(duration_text)  # a str, once parse_duration accepted it
    policy = app.jit_access_policy or {}
    if not app.jit_enabled:
        raise ArmError(
            400,
            "JitAccessNotEnabled",
            f"Just-in-time access is not enabled for the application '{app.id}'.",
        )
    if not policies:
        raise ArmError(
            400, "InvalidRequestContent", "'jitAuthorizationPolicies' must not be empty."
        )
    maximum_text = policy.get("maximumJitAccessDuration") or "PT8H"
    if duration > parse_duration(maximum_text):
        raise ArmError(
            400,
            "JitRequestDurationExceedsMaximum",
            f"The requested duration '{text}' exceeds the maximum just-in-time access "
            f"duration '{maximum_text}' allowed by the application's policy.",
        )
    eligible = eligible_pairs(app)
    normalized: list[dict[str, str]] = []
    for item in policies:
        principal_id = str(item.get("principalId", "")).lower()
        role_id = role_guid(str(item.get("roleDefinitionId", "")))
        if (principal_id, role_id) not in eligible:
            raise ArmError(
                400,
                "JitRequestIneligibleAuthorization",
                f"The principal '{principal_id}' is not eligible for the role definition "
                f"'{role_id}' on the application '{app.id}'.",
            )
        normalized.append({"principalId": principal_id, "roleDefinitionId": role_id})

    by = {"oid": "" if caller.is_app else caller.oid, "applicationId": caller.app_id}
    jit = JitRequest(
        subscription_id=subscription_id,
        resource_group=resource_group,
        name=name,
        location=location,
        application_id=app.id,
        policies=normalized,
        schedule_type=schedule_type,
        start=start,
        duration=duration,
        duration_text=text,
        provisioning_state="Accepted",
        state="Pending",
        created_by=by,
        updated_by=dict(by),
        created_at=at,
        publisher_tenant_id=app.publisher_tenant_id,
    )
    state.add_jit_request(jit)
    customer_tenant = state.subscriptions[app.subscription_id.lower()].tenant_id
    if not state.tenants[customer_tenant].p2:
        jit.state = "Failed"
        jit.provisioning_state = "Failed"
        return jit
    manual = policy.get("jitApprovalMode") == "ManualApprove"
    if not manual:
        jit.state = "Approved"
        jit.decided_at = at
        state.schedule_jit(jit)
    if state.assumes("pim-link"):
        _link_to_pim(state, jit, app, manual=manual, requestor=caller.oid, at=at)
    return jit


def _link_to_pim(
    state: State,
    jit: JitRequest,
    app: Application,
    *,
    manual: bool,
    requestor: str,
    at: dt.datetime,
) -> None:
    """Assumption `pim-link`: PIM schedule requests (and, for manual approval, one approval)
    behind the jitRequest. No Azure document shows this link."""
    policy = app.jit_access_policy or {}
    customer_tenant = state.subscriptions[app.subscription_id.lower()].tenant_id
    start, duration_text = jit.start, jit.duration_text
    for item in jit.policies:
        request = ScheduleRequest(
            name=new_id(),
            scope=app.managed_resource_group_id,
            role_definition_id=item["roleDefinitionId"],
            principal_id=item["principalId"],
            principal_type=state.principal_type(item["principalId"]),
            request_type="SelfActivate",
            status="PendingApproval" if manual else "Granted",
            start=start,
            duration_text=duration_text,
            requestor_id=requestor,
            created_on=at,
            justification=f"Just-in-time access request {jit.id}",
            jit_request_id=jit.id,
        )
        state.schedule_requests[request.name] = request
        jit.schedule_request_ids.append(request.name)
    if manual:
        approval = Approval(
            id=jit.schedule_request_ids[0],
            stage_id=stable_id("stage", jit.id),
            tenant_id=customer_tenant,
            scope=app.managed_resource_group_id,
            jit_request_id=jit.id,
            approvers=[
                {"id": a["id"].lower(), "type": a.get("type", "user")}
                for a in policy.get("jitApprovers", [])
            ],
            requestor_id=requestor,
            created_at=at,
        )
        state.approvals[approval.id] = approval
        jit.approval_id = approval.id
        for request_name in jit.schedule_request_ids:
            state.schedule_requests[
                request_name
            ].approval_id = (
                f"/providers/Microsoft.Authorization/roleAssignmentApprovals/{approval.id}"
            )


def refusal_to_decide(state: State, jit: JitRequest, oid: str) -> tuple[int, str, str] | None:
    """Why this person may not decide the request in the Azure portal's JIT Access blade, as
    (status, code, message), or None. The approvers are the app's `jitApprovers` (users, or
    members of listed groups); with none listed, anyone who may write the application."""
    from emulator.authz import Principal, is_allowed

    if jit.state != "Pending":
        return 409, "Conflict", f"The request '{jit.name}' is '{jit.state}', not pending."
    app = state.applications.get(jit.application_id.lower())
    person = state.people.get(oid)
    if app is None or person is None:
        return 404, "NotFound", "No such application or person."
    customer_tenant = state.subscriptions[app.subscription_id.lower()].tenant_id
    if person.tenant_id != customer_tenant:
        return 403, "NotAnApprover", f"{person.name} is not in the customer's tenant."
    own = {jit.created_by.get("oid", "").lower(), *(p["principalId"].lower() for p in jit.policies)}
    if oid.lower() in own:
        return 403, "SelfApproval", "Nobody approves a request they made or that elevates them."
    approvers = {a["id"].lower() for a in (app.jit_access_policy or {}).get("jitApprovers", [])}
    if approvers:
        if not approvers & {oid.lower(), *state.groups_of(oid)}:
            return 403, "NotAnApprover", f"{person.name} is not an approver of this application."
        return None
    principal = Principal(
        oid=oid, tenant_id=person.tenant_id, app_id="", name=person.name, is_app=False
    )
    if not is_allowed(state, principal, "Microsoft.Solutions/applications/write", app.id):
        return 403, "NotAnApprover", f"{person.name} may not change this application."
    return None


def decide_in_portal(
    state: State, jit: JitRequest, *, oid: str, approve: bool, justification: str
) -> None:
    """A decision made in the Azure portal's blade (the control API and the blade page)."""
    refusal = refusal_to_decide(state, jit, oid)
    if refusal is not None:
        raise ArmError(*refusal)
    if not justification.strip():
        raise ArmError(400, "JustificationRequired", "Give a reason for the decision.")
    decide(state, jit, approve=approve, by_oid=oid, justification=justification, at=state.now())
    tick(state)


def is_approver(state: State, approval: Approval, oid: str) -> bool:
    ids = {oid.lower(), *state.groups_of(oid)}
    return any(a["id"] in ids for a in approval.approvers)


def decide(
    state: State,
    jit: JitRequest,
    *,
    approve: bool,
    by_oid: str,
    justification: str,
    at: dt.datetime,
) -> None:
    """Record an approver's decision on a pending request (stage PATCH or updateAccess)."""
    if jit.state != "Pending":
        raise ArmError(
            409,
            "Conflict",
            f"The just-in-time access request '{jit.id}' is '{jit.state}' and cannot be decided.",
        )
    jit.state = "Approved" if approve else "Denied"
    jit.decided_at = at
    state.schedule_jit(jit)
    approval = state.approvals.get(jit.approval_id or "")
    if approval:
        person = state.people.get(by_oid)
        approval.status = "Completed"
        approval.review_result = "Approve" if approve else "Deny"
        approval.justification = justification
        approval.reviewed_at = at
        approval.reviewed_by = {
            "principalId": by_oid,
            "principalType": "user" if person else "servicePrincipal",
            "principalName": state.principal_name(by_oid),
            "userPrincipalName": person.upn if person else "",
        }
    for name in jit.schedule_request_ids:
        state.schedule_requests[name].status = "Granted" if approve else "Denied"


def _grant(state: State, jit: JitRequest, at: dt.datetime) -> None:
    app = state.applications.get(jit.application_id.lower())
    if app is None:
        return
    for item in jit.policies:
        assignment = RoleAssignment(
            name=stable_id("jit", jit.id, item["principalId"], item["roleDefinitionId"]),
            scope=app.managed_resource_group_id,
            role_definition_id=item["roleDefinitionId"],
            principal_id=item["principalId"],
            principal_type=state.principal_type(item["principalId"]),
            created_on=at,
            description=f"Just-in-time access granted by {jit.id}",
            source="jit",
        )
        state.add_role_assignment(assignment)
        jit.grant_ids.append(assignment.name)
        state.log_activity(
            resource_id=assignment.id,
            operation="Microsoft.Authorization/roleAssignments/write",
            caller_oid=item["principalId"],
            caller_tenant_id=jit.publisher_tenant_id,
            at=at,
        )
    for name in jit.schedule_request_ids:
        state.schedule_requests[name].status = "Provisioned"


def _revoke(state: State, jit: JitRequest, at: dt.datetime) -> None:
    for name in jit.grant_ids:
        assignment = state.remove_role_assignment(name)
        if assignment:
            state.log_activity(
                resource_id=assignment.id,
                operation="Microsoft.Authorization/roleAssignments/delete",
                caller_oid=assignment.principal_id,
                caller_tenant_id=jit.publisher_tenant_id,
                at=at,
            )
    jit.grant_ids = []


def cancel(state: State, jit: JitRequest, at: dt.datetime) -> None:
    """The publisher withdraws a request; an active grant ends at once."""
    _revoke(state, jit, at)
    jit.state = "Canceled"
    approval = state.approvals.get(jit.approval_id or "")
    if approval and approval.status != "Completed":
        approval.status = "Completed"
    for name in jit.schedule_request_ids:
        state.schedule_requests[name].status = "Canceled"


def expire(state: State, jit: JitRequest, at: dt.datetime) -> None:
    _revoke(state, jit, at)
    jit.state = "Expired"


def _advance(state: State, jit: JitRequest, now: dt.datetime) -> None:
    if jit.state == "Pending" and jit.created_at + state.jit_approval_timeout <= now:
        jit.state = "Timeout"
        approval = state.approvals.get(jit.approval_id or "")
        if approval:
            approval.status = "Expired"
        for name in jit.schedule_request_ids:
            state.schedule_requests[name].status = "TimedOut"
    if jit.state == "Approved":
        if jit.end <= now:
            if not jit.grant_ids:
                _grant(state, jit, jit.start)
            expire(state, jit, jit.end)
        elif jit.start <= now and not jit.grant_ids:
            _grant(state, jit, max(jit.start, jit.decided_at or jit.start))


def tick(state: State) -> None:
    """Move every JIT request and long-running operation forward to the current time."""
    now = state.now()
    deadlines = state.jit_deadlines
    while deadlines and deadlines[0][0] <= now:
        _, key = heapq.heappop(deadlines)
        jit = state.jit_requests.get(key)
        if jit is None or jit.state in TERMINAL_STATES:
            continue
        _advance(state, jit, now)
        state.schedule_jit(jit)
    monotonic = time.monotonic()
    for operation in list(state.operations_in_progress.values()):
        if operation.due_monotonic <= monotonic:
            finish_operation(state, operation.id)


def finish_operation(state: State, operation_id: str) -> None:
    operation = state.operations[operation_id]
    if operation.status != "InProgress":
        return
    operation.status = "Succeeded"
    state.operations_in_progress.pop(operation_id, None)
    operation.ended = state.now()
    if operation.effect is not None:
        error = operation.effect(state)
        if error:
            operation.status = "Failed"
            operation.error = error
    operation.effect = None
