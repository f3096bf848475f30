"""What the apps may ask of Azure (`AzureGateway`) and the listings it answers with."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from azure_gateway.records import (
    AccessRequestRecord,
    ActivityEventRecord,
    ApplicationDefinitionRecord,
    ApprovalRecord,
    ApprovalStageRecord,
    Authorization,
    DenyAssignmentRecord,
    JitPolicy,
    JitRequestRecord,
    ManagedAppRecord,
    PermissionSet,
    ResourceRecord,
    RoleAssignmentRecord,
    RoleDefinitionRecord,
    SubscriptionRecord,
)

R = TypeVar("R")


@dataclass(frozen=True)
class Listing(Generic[R]):
    """What one ARM listing answered: its items as ARM sent them, and a digest of them.

    Turning items into records (SDK models, then records) is most of what a listing costs the
    portal, so it happens only when asked: a sync that kept the digest of its last look can see
    that nothing changed without reading a single record.
    """

    items: tuple[dict[str, Any], ...]
    read: Callable[[dict[str, Any]], R]

    @functools.cached_property
    def digest(self) -> str:
        text = json.dumps(self.items, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def records(self) -> list[R]:
        return [self.read(item) for item in self.items]


@runtime_checkable
class AzureGateway(Protocol):
    """What the apps may ask of Azure. Every method raises `azure_gateway.errors.AzureError`s."""

    def list_subscriptions(self) -> Iterator[SubscriptionRecord]: ...
    def read_subscriptions(self) -> Listing[SubscriptionRecord]: ...
    def list_managed_apps(self, subscription_id: str) -> Iterator[ManagedAppRecord]: ...
    def get_managed_app(self, application_id: str) -> ManagedAppRecord: ...
    def list_application_definitions(
        self, subscription_id: str
    ) -> Iterator[ApplicationDefinitionRecord]: ...
    def get_application_definition(self, definition_id: str) -> ApplicationDefinitionRecord: ...
    def list_resources(self, resource_group_id: str) -> Iterator[ResourceRecord]: ...
    def list_subscription_resources(self, subscription_id: str) -> Iterator[ResourceRecord]: ...
    def read_managed_apps(self, subscription_id: str) -> Listing[ManagedAppRecord]: ...
    def read_subscription_resources(self, subscription_id: str) -> Listing[ResourceRecord]: ...
    def read_subscription_deny_assignments(
        self, subscription_id: str
    ) -> Listing[DenyAssignmentRecord]: ...
    def read_jit_requests(self, subscription_id: str) -> Listing[JitRequestRecord]: ...
    def get_role_definition(self, role_definition_id: str) -> RoleDefinitionRecord: ...
    def list_deny_assignments(self, resource_group_id: str) -> list[DenyAssignmentRecord]: ...
    def list_subscription_deny_assignments(
        self, subscription_id: str
    ) -> list[DenyAssignmentRecord]: ...
    def my_permissions(self, resource_group_id: str) -> list[PermissionSet]: ...
    def list_role_assignments(
        self, scope: str, *, principal_id: str | None = None, at_scope: bool = False
    ) -> Iterator[RoleAssignmentRecord]: ...
    def update_jit_policy(self, application_id: str, policy: JitPolicy) -> ManagedAppRecord: ...
    def create_jit_request(
        self,
        *,
        jit_request_id: str,
        application_id: str,
        location: str,
        authorizations: Sequence[Authorization],
        start: dt.datetime,
        duration: dt.timedelta,
    ) -> JitRequestRecord: ...
    def get_jit_request(self, jit_request_id: str) -> JitRequestRecord: ...
    def list_jit_requests(self, subscription_id: str) -> list[JitRequestRecord]: ...
    def list_jit_requests_at(self, scope: str) -> list[JitRequestRecord]: ...
    def cancel_jit_request(self, jit_request_id: str) -> None: ...
    def list_approvals_as_approver(self) -> list[ApprovalRecord]: ...
    def get_approval(self, approval_id: str) -> ApprovalRecord: ...
    def decide_approval_stage(
        self, approval_id: str, stage_id: str, *, approve: bool, justification: str
    ) -> ApprovalStageRecord: ...
    def list_access_requests(
        self, scope: str, *, as_approver: bool = False
    ) -> list[AccessRequestRecord]: ...
    def list_activity(
        self, resource_group_id: str, *, start: dt.datetime, end: dt.datetime
    ) -> Iterator[ActivityEventRecord]: ...
    def close(self) -> None: ...
