"""What the gateway returns: small frozen records, never SDK models.

ARM ids are kept whole (`id`, `application_id`, `scope`); role definitions are referred to by their
GUID, because applications carry bare GUIDs while role assignments carry full ids. Durations are
`timedelta`, times are aware `datetime`s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portal import moments


@dataclass(frozen=True)
class SubscriptionRecord:
    subscription_id: str
    display_name: str
    tenant_id: str
    state: str  # Enabled, Warned, PastDue, Disabled, Deleted


@dataclass(frozen=True)
class Authorization:
    """A principal and the role it holds (the role as a GUID)."""

    principal_id: str
    role_definition_id: str


@dataclass(frozen=True)
class Plan:
    name: str
    publisher: str
    product: str
    version: str


@dataclass(frozen=True)
class JitApprover:
    id: str  # Entra object id
    type: str  # "user" or "group"
    display_name: str


@dataclass(frozen=True)
class JitPolicy:
    """An application's `jitAccessPolicy`."""

    enabled: bool
    approval_mode: str  # NotSpecified, AutoApprove, ManualApprove
    approvers: tuple[JitApprover, ...]
    maximum_duration: dt.timedelta | None


@dataclass(frozen=True)
class SupportContact:
    name: str
    email: str
    phone: str


@dataclass(frozen=True)
class ManagedAppRecord:
    """A `Microsoft.Solutions/applications` resource in a customer's subscription."""

    id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str
    kind: str  # MarketPlace or ServiceCatalog
    plan: Plan | None
    application_definition_id: str | None
    managed_resource_group_id: str
    provisioning_state: str
    management_mode: str
    publisher_tenant_id: str
    authorizations: tuple[Authorization, ...]
    jit_policy: JitPolicy | None
    parameters: Mapping[str, Any]
    outputs: Mapping[str, Any]
    support: SupportContact | None
    support_url: str | None
    billing_resource_usage_id: str | None
    tags: Mapping[str, str]
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    created_by_oid: str
    updated_by_oid: str


@dataclass(frozen=True)
class ApplicationDefinitionRecord:
    """A Service Catalog `Microsoft.Solutions/applicationDefinitions` resource."""

    id: str
    name: str
    location: str
    display_name: str
    description: str
    lock_level: str  # CanNotDelete, ReadOnly, None
    is_enabled: bool
    authorizations: tuple[Authorization, ...]
    allowed_actions: tuple[str, ...]
    allowed_data_actions: tuple[str, ...]
    notification_uri: str | None
    deployment_mode: str | None
    management_mode: str | None


@dataclass(frozen=True)
class ResourceRecord:
    """A resource in a resource group (e.g. in a managed resource group)."""

    id: str
    name: str
    type: str
    location: str
    kind: str | None
    tags: Mapping[str, str]


@dataclass(frozen=True)
class PermissionSet:
    """One `permissions` entry of a role definition, deny assignment or permissions listing."""

    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]


@dataclass(frozen=True)
class RoleDefinitionRecord:
    id: str  # the GUID
    arm_id: str
    name: str  # roleName, e.g. "Contributor"
    role_type: str  # BuiltInRole or CustomRole
    description: str
    permissions: tuple[PermissionSet, ...]


@dataclass(frozen=True)
class PrincipalRef:
    id: str
    type: str  # User, Group, ServicePrincipal, SystemDefined, ...
    display_name: str


@dataclass(frozen=True)
class DenyAssignmentRecord:
    id: str
    name: str  # the GUID
    display_name: str  # "System deny assignment created by managed application …"
    description: str
    scope: str
    permissions: tuple[PermissionSet, ...]
    principals: tuple[PrincipalRef, ...]
    excluded_principals: tuple[PrincipalRef, ...]
    applies_to_child_scopes: bool
    is_system_protected: bool


@dataclass(frozen=True)
class RoleAssignmentRecord:
    id: str
    name: str
    scope: str
    role_definition_id: str  # the GUID
    principal_id: str
    principal_type: str
    description: str
    created_on: dt.datetime | None


@dataclass(frozen=True)
class ClientDetails:
    """Who called ARM to create or update a resource (`createdBy` / `updatedBy`)."""

    oid: str
    application_id: str


@dataclass(frozen=True)
class JitRequestRecord:
    """A `Microsoft.Solutions/jitRequests` resource."""

    id: str
    name: str
    location: str | None
    application_id: str
    publisher_tenant_id: str
    authorizations: tuple[Authorization, ...]
    schedule_type: str  # Once, Recurring, NotSpecified
    start: dt.datetime
    duration: dt.timedelta
    state: str  # jitRequestState: Pending, Approved, Denied, Failed, Canceled, Expired, Timeout
    provisioning_state: str
    created_by: ClientDetails | None
    updated_by: ClientDetails | None
    tags: Mapping[str, str]

    @property
    def end(self) -> dt.datetime:
        return moments.plus(self.start, self.duration)


@dataclass(frozen=True)
class Reviewer:
    principal_id: str
    principal_type: str
    principal_name: str
    user_principal_name: str


@dataclass(frozen=True)
class ApprovalStageRecord:
    id: str
    name: str  # the stage id
    display_name: str
    status: str  # NotStarted, InProgress, Completed, Expired, ...
    assigned_to_me: bool
    review_result: str  # Approve, Deny, NotReviewed
    justification: str
    reviewed_at: dt.datetime | None
    reviewed_by: Reviewer | None


@dataclass(frozen=True)
class ApprovalRecord:
    """A PIM role assignment approval (`roleAssignmentApprovals`) and its stages."""

    id: str
    name: str  # the approval id
    stages: tuple[ApprovalStageRecord, ...]


@dataclass(frozen=True)
class AccessRequestRecord:
    """A PIM `roleAssignmentScheduleRequests` entry, which links a request to its approval."""

    id: str
    name: str
    scope: str
    role_definition_id: str  # the GUID
    principal_id: str
    principal_type: str
    request_type: str  # SelfActivate, AdminAssign, ...
    status: str  # PendingApproval, Granted, Denied, Canceled, ...
    approval_id: str | None  # the approval's name (GUID)
    start: dt.datetime | None
    duration: dt.timedelta | None
    justification: str
    requestor_id: str
    ticket_number: str
    ticket_system: str
    created_on: dt.datetime | None


@dataclass(frozen=True)
class ActivityEventRecord:
    """One entry of the Azure activity log."""

    event_id: str
    correlation_id: str
    operation: str  # e.g. Microsoft.Compute/virtualMachines/restart/action
    status: str  # Succeeded, Failed, Started, ...
    level: str
    category: str
    caller: str
    caller_oid: str
    caller_tenant_id: str
    resource_id: str
    resource_group: str
    timestamp: dt.datetime
