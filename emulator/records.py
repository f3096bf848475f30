"""The records the emulated cloud is made of: directory objects (tenants, people, groups, app
registrations), ARM resources (subscriptions, resource groups, roles, offers, applications,
generic resources), JIT requests and their PIM twins, and the emulator's runtime records
(activity events, long-running operations, webhook deliveries).

Plain dataclasses; `emulator.state.State` stores and indexes them.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from emulator.ids import new_id


@dataclass
class Tenant:
    id: str
    name: str
    domain: str
    kind: str  # "publisher" | "customer"
    p2: bool


@dataclass
class Person:
    oid: str
    tenant_id: str
    name: str
    upn: str
    roles: list[str]
    given_name: str = ""
    surname: str = ""
    job_title: str | None = None


@dataclass
class Group:
    oid: str
    tenant_id: str
    name: str
    members: list[str]


@dataclass
class AppRegistration:
    client_id: str
    name: str
    home_tenant: str
    secrets: list[str]
    redirect_uris: list[str]
    app_roles: list[str]
    # tenant id -> object id of the app's service principal in that tenant
    service_principals: dict[str, str]


@dataclass
class Subscription:
    id: str
    tenant_id: str
    name: str


@dataclass
class ResourceGroup:
    subscription_id: str
    name: str
    location: str
    managed_by: str | None = None

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.name}"


@dataclass
class RoleDefinition:
    id: str  # GUID
    name: str
    description: str
    actions: list[str]
    not_actions: list[str] = field(default_factory=list)
    data_actions: list[str] = field(default_factory=list)
    not_data_actions: list[str] = field(default_factory=list)


@dataclass
class RoleAssignment:
    name: str  # GUID
    scope: str
    role_definition_id: str  # GUID
    principal_id: str
    principal_type: str
    created_on: dt.datetime
    description: str | None = None
    source: str = "scenario"  # "scenario" | "jit" | "api"

    @property
    def id(self) -> str:
        return f"{self.scope}/providers/Microsoft.Authorization/roleAssignments/{self.name}"


@dataclass
class Offer:
    """What the publisher packaged: a Marketplace plan or a Service Catalog definition."""

    key: str
    publisher_tenant_id: str
    display_name: str
    lock_level: str
    authorizations: list[dict[str, str]]
    jit_enabled: bool
    allowed_actions: list[str]
    allowed_data_actions: list[str]
    management_mode: str
    notification_url: str | None
    plan: dict[str, str] | None  # Marketplace
    definition_id: str | None  # Service Catalog
    resources: list[dict[str, str]]
    activity: list[dict[str, str]]


@dataclass
class ApplicationDefinition:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    properties: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Solutions/applicationDefinitions/{self.name}"
        )


@dataclass
class Application:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    offer_key: str
    kind: str
    managed_resource_group_id: str
    provisioning_state: str
    publisher_tenant_id: str
    authorizations: list[dict[str, str]]
    lock_level: str
    allowed_actions: list[str]
    allowed_data_actions: list[str]
    management_mode: str
    jit_access_policy: dict[str, Any] | None
    notification_url: str | None
    plan: dict[str, str] | None
    definition_id: str | None
    billing_id: str | None
    created_by: dict[str, str]
    updated_by: dict[str, str]
    created_at: dt.datetime
    updated_at: dt.datetime
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Solutions/applications/{self.name}"
        )

    @property
    def jit_enabled(self) -> bool:
        return bool(self.jit_access_policy and self.jit_access_policy.get("jitAccessEnabled"))


@dataclass
class GenericResource:
    id: str
    name: str
    type: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class JitRequest:
    subscription_id: str
    resource_group: str
    name: str
    location: str | None
    application_id: str
    policies: list[dict[str, str]]  # [{principalId, roleDefinitionId}]
    schedule_type: str
    start: dt.datetime
    duration: dt.timedelta
    duration_text: str
    provisioning_state: str
    state: str  # Pending | Approved | Denied | Failed | Canceled | Expired | Timeout
    created_by: dict[str, str]
    updated_by: dict[str, str]
    created_at: dt.datetime
    publisher_tenant_id: str
    tags: dict[str, str] = field(default_factory=dict)
    approval_id: str | None = None
    schedule_request_ids: list[str] = field(default_factory=list)
    grant_ids: list[str] = field(default_factory=list)
    decided_at: dt.datetime | None = None

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Solutions/jitRequests/{self.name}"
        )

    @property
    def end(self) -> dt.datetime:
        return self.start + self.duration


@dataclass
class Approval:
    id: str
    stage_id: str
    tenant_id: str
    scope: str  # the managed resource group
    jit_request_id: str
    approvers: list[dict[str, str]]  # [{id, type}]
    requestor_id: str
    created_at: dt.datetime
    status: str = "InProgress"
    review_result: str = "NotReviewed"
    justification: str = ""
    reviewed_by: dict[str, str] | None = None
    reviewed_at: dt.datetime | None = None


@dataclass
class ScheduleRequest:
    name: str
    scope: str
    role_definition_id: str
    principal_id: str
    principal_type: str
    request_type: str
    status: str
    start: dt.datetime
    duration_text: str
    requestor_id: str
    created_on: dt.datetime
    approval_id: str | None = None
    justification: str | None = None
    jit_request_id: str | None = None

    @property
    def id(self) -> str:
        return f"{self.scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{self.name}"


@dataclass
class ActivityEvent:
    event_id: str
    subscription_id: str
    resource_group: str
    resource_id: str
    operation: str
    caller: str  # upn or app id, as the activity log shows it
    caller_oid: str
    caller_tenant_id: str
    timestamp: dt.datetime
    status: str = "Succeeded"
    level: str = "Informational"
    category: str = "Administrative"
    correlation_id: str = field(default_factory=new_id)


@dataclass
class Operation:
    """A long-running ARM operation; `finish` applies its effect once it is due."""

    id: str
    subscription_id: str
    location: str
    resource_id: str
    started: dt.datetime
    due_monotonic: float
    status: str = "InProgress"
    ended: dt.datetime | None = None
    error: dict[str, str] | None = None
    result: dict[str, Any] | None = None
    effect: Any = None  # Callable[[State], None], run once under the lock


@dataclass
class WebhookDelivery:
    id: str
    url: str
    payload: dict[str, Any]
    attempts: int = 0
    status: str = "queued"  # queued | delivered | failed
    last_status_code: int | None = None
    last_error: str | None = None
