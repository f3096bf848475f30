"""SDK models (and raw ARM JSON) to the gateway's records, and records to request models."""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping
from typing import Any

import isodate
from azure.mgmt.core.tools import parse_resource_id
from azure.mgmt.managedapplications import models as solutions

from azure_gateway.records import (
    AccessRequestRecord,
    ActivityEventRecord,
    ApplicationDefinitionRecord,
    ApprovalRecord,
    ApprovalStageRecord,
    Authorization,
    ClientDetails,
    DenyAssignmentRecord,
    JitApprover,
    JitPolicy,
    JitRequestRecord,
    ManagedAppRecord,
    PermissionSet,
    Plan,
    PrincipalRef,
    ResourceRecord,
    Reviewer,
    RoleAssignmentRecord,
    RoleDefinitionRecord,
    SubscriptionRecord,
    SupportContact,
)


def role_guid(role_definition_id: str) -> str:
    """The GUID of a role definition, from a bare GUID or any full roleDefinitions id."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def parse_duration(value: Any) -> dt.timedelta | None:
    """An ISO 8601 duration ("PT8H", or the SDK's "PT08H00M00S") as a timedelta."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.timedelta):
        return value
    parsed = isodate.parse_duration(str(value))
    if not isinstance(parsed, dt.timedelta):  # years or months: not a fixed length
        raise ValueError(f"duration {value!r} is not a fixed time span")
    return parsed


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """ARM times are UTC; make sure no naive datetime leaves the gateway."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return aware(value)
    return aware(isodate.parse_datetime(str(value)))


def _json_object(value: Any) -> Mapping[str, Any]:
    """`parameters`/`outputs` may be an object or a JSON string."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    return dict(value or {})


def _str(value: Any) -> str:
    """Text of a model field; SDK enums (str subclasses) give their wire value, not their name."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _strings(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


# Subscriptions, applications, resources ----------------------------------------------------------


def subscription(model: Any) -> SubscriptionRecord:
    return SubscriptionRecord(
        subscription_id=_str(model.subscription_id),
        display_name=_str(model.display_name),
        tenant_id=_str(model.tenant_id),
        state=_str(model.state),
    )


def _authorizations(items: Any) -> tuple[Authorization, ...]:
    return tuple(
        Authorization(
            principal_id=_str(a.principal_id), role_definition_id=role_guid(a.role_definition_id)
        )
        for a in items or ()
    )


def jit_policy(model: solutions.ApplicationJitAccessPolicy | None) -> JitPolicy | None:
    if model is None:
        return None
    return JitPolicy(
        enabled=bool(model.jit_access_enabled),
        approval_mode=_str(model.jit_approval_mode) or "NotSpecified",
        approvers=tuple(
            JitApprover(
                id=_str(a.id), type=_str(a.type) or "user", display_name=_str(a.display_name)
            )
            for a in model.jit_approvers or ()
        ),
        maximum_duration=parse_duration(model.maximum_jit_access_duration),
    )


def jit_policy_model(policy: JitPolicy) -> solutions.ApplicationJitAccessPolicy:
    return solutions.ApplicationJitAccessPolicy(
        jit_access_enabled=policy.enabled,
        jit_approval_mode=policy.approval_mode,
        jit_approvers=[
            solutions.JitApproverDefinition(
                id=a.id, type=a.type, **({"display_name": a.display_name} if a.display_name else {})
            )
            for a in policy.approvers
        ],
        **(
            {"maximum_jit_access_duration": isodate.duration_isoformat(policy.maximum_duration)}
            if policy.maximum_duration is not None
            else {}
        ),
    )


def managed_app(model: solutions.Application) -> ManagedAppRecord:
    props = model.properties
    parts = parse_resource_id(_str(model.id))
    plan = model.plan
    contact = props.customer_support
    system = model.system_data
    return ManagedAppRecord(
        id=_str(model.id),
        name=_str(model.name),
        subscription_id=_str(parts.get("subscription")),
        resource_group=_str(parts.get("resource_group")),
        location=_str(model.location),
        kind=_str(model.kind),
        plan=Plan(
            name=_str(plan.name),
            publisher=_str(plan.publisher),
            product=_str(plan.product),
            version=_str(plan.version),
        )
        if plan is not None
        else None,
        application_definition_id=props.application_definition_id or None,
        managed_resource_group_id=_str(props.managed_resource_group_id),
        provisioning_state=_str(props.provisioning_state),
        management_mode=_str(props.management_mode),
        publisher_tenant_id=_str(props.publisher_tenant_id),
        authorizations=_authorizations(props.authorizations),
        jit_policy=jit_policy(props.jit_access_policy),
        parameters=_json_object(props.parameters),
        outputs=_json_object(props.outputs),
        support=SupportContact(
            name=_str(contact.contact_name), email=_str(contact.email), phone=_str(contact.phone)
        )
        if contact is not None
        else None,
        support_url=props.support_urls.public_azure if props.support_urls is not None else None,
        billing_resource_usage_id=props.billing_details.resource_usage_id
        if props.billing_details is not None
        else None,
        tags=dict(model.tags or {}),
        created_at=aware(system.created_at) if system is not None else None,
        updated_at=aware(system.last_modified_at) if system is not None else None,
        created_by_oid=_str(props.created_by.oid) if props.created_by is not None else "",
        updated_by_oid=_str(props.updated_by.oid) if props.updated_by is not None else "",
    )


def application_definition(model: solutions.ApplicationDefinition) -> ApplicationDefinitionRecord:
    props = model.properties
    locking = props.locking_policy
    endpoints = (
        props.notification_policy.notification_endpoints if props.notification_policy else []
    )
    return ApplicationDefinitionRecord(
        id=_str(model.id),
        name=_str(model.name),
        location=_str(model.location),
        display_name=_str(props.display_name),
        description=_str(props.description),
        lock_level=_str(props.lock_level),
        is_enabled=props.is_enabled is not False,
        authorizations=_authorizations(props.authorizations),
        allowed_actions=_strings(locking.allowed_actions if locking else None),
        allowed_data_actions=_strings(locking.allowed_data_actions if locking else None),
        notification_uri=endpoints[0].uri if endpoints else None,
        deployment_mode=_str(props.deployment_policy.deployment_mode)
        if props.deployment_policy
        else None,
        management_mode=_str(props.management_policy.mode) if props.management_policy else None,
    )


def resource(model: Any) -> ResourceRecord:
    return ResourceRecord(
        id=_str(model.id),
        name=_str(model.name),
        type=_str(model.type),
        location=_str(model.location),
        kind=model.kind or None,
        tags=dict(model.tags or {}),
    )


# Authorization ---------------------------------------------------------------------------------


def permission_set(model: Any) -> PermissionSet:
    return PermissionSet(
        actions=_strings(model.actions),
        not_actions=_strings(model.not_actions),
        data_actions=_strings(model.data_actions),
        not_data_actions=_strings(model.not_data_actions),
    )


def role_definition(model: Any) -> RoleDefinitionRecord:
    return RoleDefinitionRecord(
        id=role_guid(_str(model.name or model.id)),
        arm_id=_str(model.id),
        name=_str(model.role_name),
        role_type=_str(model.role_type),
        description=_str(model.description),
        permissions=tuple(permission_set(p) for p in model.permissions or ()),
    )


def _principal(model: Any) -> PrincipalRef:
    return PrincipalRef(
        id=_str(model.id), type=_str(model.type), display_name=_str(model.display_name)
    )


def deny_assignment(model: Any) -> DenyAssignmentRecord:
    return DenyAssignmentRecord(
        id=_str(model.id),
        name=_str(model.name),
        display_name=_str(model.deny_assignment_name),
        description=_str(model.description),
        scope=_str(model.scope),
        permissions=tuple(permission_set(p) for p in model.permissions or ()),
        principals=tuple(_principal(p) for p in model.principals or ()),
        excluded_principals=tuple(_principal(p) for p in model.exclude_principals or ()),
        applies_to_child_scopes=not model.do_not_apply_to_child_scopes,
        is_system_protected=bool(model.is_system_protected),
    )


def role_assignment(model: Any) -> RoleAssignmentRecord:
    return RoleAssignmentRecord(
        id=_str(model.id),
        name=_str(model.name),
        scope=_str(model.scope),
        role_definition_id=role_guid(_str(model.role_definition_id)),
        principal_id=_str(model.principal_id),
        principal_type=_str(model.principal_type),
        description=_str(model.description),
        created_on=aware(model.created_on),
    )


def approval_stage(model: Any) -> ApprovalStageRecord:
    reviewer = None
    if model.principal_id:
        reviewer = Reviewer(
            principal_id=_str(model.principal_id),
            principal_type=_str(model.principal_type),
            principal_name=_str(model.principal_name),
            user_principal_name=_str(model.user_principal_name),
        )
    return ApprovalStageRecord(
        id=_str(model.id),
        name=_str(model.name),
        display_name=_str(model.display_name),
        status=_str(model.status),
        assigned_to_me=bool(model.assigned_to_me),
        review_result=_str(model.review_result) or "NotReviewed",
        justification=_str(model.justification),
        reviewed_at=aware(model.reviewed_date_time),
        reviewed_by=reviewer,
    )


def approval(model: Any) -> ApprovalRecord:
    return ApprovalRecord(
        id=_str(model.id),
        name=_str(model.name),
        # The 2021-01-01-preview spec says `stages`; other versions of it say `steps`.
        stages=tuple(
            approval_stage(s)
            for s in (getattr(model, "stages", None) or getattr(model, "steps", None) or ())
        ),
    )


def access_request(model: Any) -> AccessRequestRecord:
    schedule = model.schedule_info
    expiration = schedule.expiration if schedule is not None else None
    ticket = model.ticket_info
    return AccessRequestRecord(
        id=_str(model.id),
        name=_str(model.name),
        scope=_str(model.scope),
        role_definition_id=role_guid(_str(model.role_definition_id)),
        principal_id=_str(model.principal_id),
        principal_type=_str(model.principal_type),
        request_type=_str(model.request_type),
        status=_str(model.status),
        approval_id=role_guid(model.approval_id) if model.approval_id else None,
        start=aware(schedule.start_date_time) if schedule is not None else None,
        duration=parse_duration(expiration.duration) if expiration is not None else None,
        justification=_str(model.justification),
        requestor_id=_str(model.requestor_id),
        ticket_number=_str(ticket.ticket_number) if ticket is not None else "",
        ticket_system=_str(ticket.ticket_system) if ticket is not None else "",
        created_on=aware(model.created_on),
    )


# JIT requests ----------------------------------------------------------------------------------


def _client_details(model: solutions.ApplicationClientDetails | None) -> ClientDetails | None:
    if model is None:
        return None
    return ClientDetails(oid=_str(model.oid), application_id=_str(model.application_id))


def jit_request(model: solutions.JitRequestDefinition) -> JitRequestRecord:
    props = model.properties
    if props is None:
        raise ValueError(f"JIT request {model.id} has no properties")
    schedule = props.jit_scheduling_policy
    start = _parse_time(schedule.start_time)
    duration = parse_duration(schedule.duration)
    if start is None or duration is None:
        raise ValueError(f"JIT request {model.id} has no start time or duration")
    return JitRequestRecord(
        id=_str(model.id),
        name=_str(model.name),
        location=model.location or None,
        application_id=_str(props.application_resource_id),
        publisher_tenant_id=_str(props.publisher_tenant_id),
        authorizations=_authorizations(props.jit_authorization_policies),
        schedule_type=_str(schedule.type),
        start=start,
        duration=duration,
        state=_str(props.jit_request_state),
        provisioning_state=_str(props.provisioning_state),
        created_by=_client_details(props.created_by),
        updated_by=_client_details(props.updated_by),
        tags=dict(model.tags or {}),
    )


# Activity log (raw ARM JSON: no SDK model is installed for it) ------------------------------------


def _value(field: Any) -> str:
    """Activity log fields are `{"value", "localizedValue"}` pairs."""
    if isinstance(field, dict):
        return _str(field.get("value"))
    return _str(field)


def activity_event(data: Mapping[str, Any]) -> ActivityEventRecord:
    claims = data.get("claims") or {}
    timestamp = _parse_time(data.get("eventTimestamp"))
    if timestamp is None:
        raise ValueError(f"activity event {data.get('eventDataId')} has no eventTimestamp")
    return ActivityEventRecord(
        event_id=_str(data.get("eventDataId")),
        correlation_id=_str(data.get("correlationId")),
        operation=_value(data.get("operationName")),
        status=_value(data.get("status")),
        level=_str(data.get("level")),
        category=_value(data.get("category")),
        caller=_str(data.get("caller")),
        caller_oid=_str(
            claims.get("http://schemas.microsoft.com/identity/claims/objectidentifier")
        ),
        caller_tenant_id=_str(
            claims.get("http://schemas.microsoft.com/identity/claims/tenantid")
            or data.get("tenantId")
        ),
        resource_id=_str(data.get("resourceId")),
        resource_group=_str(data.get("resourceGroupName")),
        timestamp=timestamp,
    )
