"""The gateway to Azure over the SDKs: `SdkAzureGateway` and the ways to build one.

Emulator or Azure, the code path is the same; only `ARM_URL`, `ENTRA_LOGIN_URL` and
`AZURE_CA_BUNDLE` differ, and they come from settings.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2021_01_01_preview.models import (
    RoleAssignmentApprovalStepProperties,
)
from azure.mgmt.authorization.v2022_04_01.models import DenyAssignment
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.core.tools import parse_resource_id
from azure.mgmt.managedapplications import ManagedApplicationsMgmtClient
from azure.mgmt.managedapplications import models as solutions
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import GenericResourceExpanded
from azure.mgmt.resource.subscriptions.models import Subscription
from django.conf import settings

from azure_gateway import mapping
from azure_gateway.credentials import DelegatedCredential, TokenProvider, client_secret_credential
from azure_gateway.errors import NotFound, translated
from azure_gateway.pipeline import (
    ACTIVITY_LOG_API_VERSION,
    ARM_CREDENTIAL_SCOPES,
    AUTHORIZATION_API_VERSION,
    AUTHORIZATION_PROFILE,
    RESOURCES_API_VERSION,
    SOLUTIONS_API_VERSION,
    SUBSCRIPTIONS_API_VERSION,
    client_options,
    raw_pipeline,
)
from azure_gateway.protocol import Listing
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

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def _each(items: Iterable[T], convert: Callable[[T], R]) -> Iterator[R]:
    """Map SDK models lazily, translating errors raised while paging."""
    with translated():
        for item in items:
            yield convert(item)


def _subscription_of(arm_id: str) -> str:
    subscription = parse_resource_id(arm_id).get("subscription")
    if not subscription:
        raise ValueError(f"not a subscription-scoped ARM id: {arm_id!r}")
    return str(subscription)


def _last_segment(value: str) -> str:
    return value.rstrip("/").rsplit("/", 1)[-1]


class SdkAzureGateway:
    """AzureGateway over the Azure SDKs, for one credential."""

    def __init__(self, credential: TokenCredential, *, owns_credential: bool = True) -> None:
        self._credential = credential
        self._owns_credential = owns_credential
        self._solutions: dict[str, ManagedApplicationsMgmtClient] = {}
        self._resources: dict[str, ResourceManagementClient] = {}
        self._authorization: dict[str, AuthorizationManagementClient] = {}
        self._raw: ARMPipelineClient[Any, Any] | None = None

    def close(self) -> None:
        """Close the HTTP sessions of the clients made so far, and the credential's."""
        for clients in (self._solutions, self._resources, self._authorization):
            for client in clients.values():
                client.close()
            clients.clear()
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        close_credential = getattr(self._credential, "close", None)
        if self._owns_credential and close_credential is not None:
            close_credential()

    def __enter__(self) -> SdkAzureGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Clients, one per subscription and kind, made on first use ---------------------------------

    def _solutions_client(self, subscription_id: str) -> ManagedApplicationsMgmtClient:
        if subscription_id not in self._solutions:
            self._solutions[subscription_id] = ManagedApplicationsMgmtClient(
                self._credential,
                subscription_id,
                api_version=SOLUTIONS_API_VERSION,
                **client_options(),
            )
        return self._solutions[subscription_id]

    def _resources_client(self, subscription_id: str) -> ResourceManagementClient:
        if subscription_id not in self._resources:
            self._resources[subscription_id] = ResourceManagementClient(
                self._credential,
                subscription_id,
                api_version=RESOURCES_API_VERSION,
                **client_options(),
            )
        return self._resources[subscription_id]

    def _authorization_client(self, subscription_id: str = "") -> AuthorizationManagementClient:
        # The client wants a subscription id even for tenant-level calls (approvals); it is not
        # used in those URLs.
        if subscription_id not in self._authorization:
            self._authorization[subscription_id] = AuthorizationManagementClient(
                self._credential,
                subscription_id or "00000000-0000-0000-0000-000000000000",
                profile=AUTHORIZATION_PROFILE,  # type: ignore[arg-type]  # annotated as KnownProfiles; any ProfileDefinition works
                **client_options(),
            )
        return self._authorization[subscription_id]

    def _raw_client(self) -> ARMPipelineClient[Any, Any]:
        if self._raw is None:
            self._raw = raw_pipeline(self._credential)
        return self._raw

    # Subscriptions and applications -------------------------------------------------------------

    def list_subscriptions(self) -> Iterator[SubscriptionRecord]:
        """Subscriptions the credential can see."""
        yield from self.read_subscriptions().records()

    def read_subscriptions(self) -> Listing[SubscriptionRecord]:
        """https://learn.microsoft.com/rest/api/resources/subscriptions/list"""
        return self._listing(
            "/subscriptions",
            SUBSCRIPTIONS_API_VERSION,
            lambda item: mapping.subscription(Subscription(item)),
        )

    def list_managed_apps(self, subscription_id: str) -> Iterator[ManagedAppRecord]:
        """Managed applications in a subscription, paged through."""
        yield from self.read_managed_apps(subscription_id).records()

    def read_managed_apps(self, subscription_id: str) -> Listing[ManagedAppRecord]:
        """https://learn.microsoft.com/rest/api/managedapplications/applications/list-by-subscription"""
        return self._listing(
            f"/subscriptions/{subscription_id}/providers/Microsoft.Solutions/applications",
            SOLUTIONS_API_VERSION,
            lambda item: mapping.managed_app(solutions.Application(item)),
        )

    def get_managed_app(self, application_id: str) -> ManagedAppRecord:
        """One managed application by ARM id; NotFound when it does not exist."""
        client = self._solutions_client(_subscription_of(application_id))
        with translated():
            app = client.applications.get_by_id(application_id)
        if app is None:  # the SDK answers a 404 with None rather than an exception
            raise NotFound(
                f"The managed application '{application_id}' was not found.",
                code="ResourceNotFound",
                status=404,
            )
        return mapping.managed_app(app)

    def list_application_definitions(
        self, subscription_id: str
    ) -> Iterator[ApplicationDefinitionRecord]:
        """Service Catalog application definitions in a subscription, paged through."""
        client = self._solutions_client(subscription_id)
        return _each(
            client.application_definitions.list_by_subscription(), mapping.application_definition
        )

    def get_application_definition(self, definition_id: str) -> ApplicationDefinitionRecord:
        """A Service Catalog application definition by ARM id; NotFound when it does not exist."""
        # Despite its name, the SDK's get_by_id takes (resource group, name), like get.
        parts = parse_resource_id(definition_id)
        client = self._solutions_client(str(parts["subscription"]))
        with translated():
            definition = client.application_definitions.get(
                str(parts["resource_group"]), str(parts["name"])
            )
        if definition is None:
            raise NotFound(
                f"The application definition '{definition_id}' was not found.",
                code="ResourceNotFound",
                status=404,
            )
        return mapping.application_definition(definition)

    def list_resources(self, resource_group_id: str) -> Iterator[ResourceRecord]:
        """Resources in a resource group (e.g. an application's managed resource group)."""
        parts = parse_resource_id(resource_group_id)
        client = self._resources_client(str(parts["subscription"]))
        return _each(
            client.resources.list_by_resource_group(str(parts["resource_group"])),
            mapping.resource,
        )

    def list_subscription_resources(self, subscription_id: str) -> Iterator[ResourceRecord]:
        """Every resource of a subscription the caller may read, in one listing.

        https://learn.microsoft.com/rest/api/resources/resources/list
        """
        yield from self.read_subscription_resources(subscription_id).records()

    def read_subscription_resources(self, subscription_id: str) -> Listing[ResourceRecord]:
        return self._listing(
            f"/subscriptions/{subscription_id}/resources",
            RESOURCES_API_VERSION,
            lambda item: mapping.resource(GenericResourceExpanded(item)),
        )

    # Roles, deny assignments, permissions -------------------------------------------------------

    def get_role_definition(self, role_definition_id: str) -> RoleDefinitionRecord:
        """A role definition by GUID or full ARM id."""
        if role_definition_id.startswith("/"):
            arm_id = role_definition_id
        else:
            arm_id = f"/providers/Microsoft.Authorization/roleDefinitions/{role_definition_id}"
        with translated():
            role = self._authorization_client().role_definitions.get_by_id(arm_id)
        return mapping.role_definition(role)

    def list_deny_assignments(self, resource_group_id: str) -> list[DenyAssignmentRecord]:
        """Deny assignments that apply to a resource group (a locked managed RG has one)."""
        parts = parse_resource_id(resource_group_id)
        client = self._authorization_client(str(parts["subscription"]))
        items = client.deny_assignments.list_for_resource_group(str(parts["resource_group"]))
        return list(_each(items, mapping.deny_assignment))

    def list_subscription_deny_assignments(
        self, subscription_id: str
    ) -> list[DenyAssignmentRecord]:
        """Deny assignments in a subscription, its resource groups included (managed RG locks).

        https://learn.microsoft.com/rest/api/authorization/deny-assignments/list
        """
        return self.read_subscription_deny_assignments(subscription_id).records()

    def read_subscription_deny_assignments(
        self, subscription_id: str
    ) -> Listing[DenyAssignmentRecord]:
        return self._listing(
            f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/denyAssignments",
            AUTHORIZATION_API_VERSION,
            lambda item: mapping.deny_assignment(DenyAssignment.deserialize(item)),
        )

    def my_permissions(self, resource_group_id: str) -> list[PermissionSet]:
        """The caller's effective role permissions on a resource group.

        https://learn.microsoft.com/rest/api/authorization/permissions/list-for-resource-group
        """
        parts = parse_resource_id(resource_group_id)
        client = self._authorization_client(str(parts["subscription"]))
        items = client.permissions.list_for_resource_group(str(parts["resource_group"]))
        return list(_each(items, mapping.permission_set))

    def list_role_assignments(
        self, scope: str, *, principal_id: str | None = None, at_scope: bool = False
    ) -> Iterator[RoleAssignmentRecord]:
        """Role assignments at, above and below a scope, optionally narrowed.

        `at_scope` keeps those at or above the scope; ARM accepts only one of the two filters.
        """
        if principal_id and at_scope:
            raise ValueError("ARM filters role assignments by principal or atScope(), not both")
        query = f"principalId eq '{principal_id}'" if principal_id else None
        if at_scope:
            query = "atScope()"
        client = self._authorization_client(_subscription_of(scope))
        items = client.role_assignments.list_for_scope(scope, filter=query)
        return _each(items, mapping.role_assignment)

    # JIT access -------------------------------------------------------------------------------

    def update_jit_policy(self, application_id: str, policy: JitPolicy) -> ManagedAppRecord:
        """PATCH the application's jitAccessPolicy and wait for ARM to finish."""
        client = self._solutions_client(_subscription_of(application_id))
        patch = solutions.ApplicationPatchable(
            properties=solutions.ApplicationProperties(
                jit_access_policy=mapping.jit_policy_model(policy)
            )
        )
        with translated():
            poller = client.applications.begin_update_by_id(application_id, patch)
            app = poller.result()
        return mapping.managed_app(app)

    def create_jit_request(
        self,
        *,
        jit_request_id: str,
        application_id: str,
        location: str,
        authorizations: Sequence[Authorization],
        start: dt.datetime,
        duration: dt.timedelta,
    ) -> JitRequestRecord:
        """PUT a jitRequests resource (the caller picks its id) and wait for provisioning.

        Idempotent: a PUT with the same content returns the existing request.
        https://learn.microsoft.com/rest/api/managedapplications/jit-requests/create-or-update
        """
        parts = parse_resource_id(jit_request_id)
        client = self._solutions_client(str(parts["subscription"]))
        body = solutions.JitRequestDefinition(
            location=location,
            properties=solutions.JitRequestProperties(
                application_resource_id=application_id,
                jit_authorization_policies=[
                    solutions.JitAuthorizationPolicies(
                        principal_id=a.principal_id, role_definition_id=a.role_definition_id
                    )
                    for a in authorizations
                ],
                jit_scheduling_policy=solutions.JitSchedulingPolicy(
                    type="Once", duration=duration, start_time=start
                ),
            ),
        )
        with translated():
            poller = client.jit_requests.begin_create_or_update(
                str(parts["resource_group"]), str(parts["name"]), body
            )
            request = poller.result()
        return mapping.jit_request(request)

    def get_jit_request(self, jit_request_id: str) -> JitRequestRecord:
        """One JIT request by ARM id; NotFound when it does not exist."""
        parts = parse_resource_id(jit_request_id)
        client = self._solutions_client(str(parts["subscription"]))
        with translated():
            request = client.jit_requests.get(str(parts["resource_group"]), str(parts["name"]))
        if request is None:
            raise NotFound(
                f"The JIT request '{jit_request_id}' was not found.",
                code="ResourceNotFound",
                status=404,
            )
        return mapping.jit_request(request)

    def list_jit_requests(self, subscription_id: str) -> list[JitRequestRecord]:
        """JIT requests in a subscription the caller may see.

        https://learn.microsoft.com/rest/api/managedapplications/jit-requests/list-by-subscription
        """
        return self.read_jit_requests(subscription_id).records()

    def read_jit_requests(self, subscription_id: str) -> Listing[JitRequestRecord]:
        return self._listing(
            f"/subscriptions/{subscription_id}/providers/Microsoft.Solutions/jitRequests",
            SOLUTIONS_API_VERSION,
            lambda item: mapping.jit_request(solutions.JitRequestDefinition(item)),
        )

    def list_jit_requests_at(self, scope: str) -> list[JitRequestRecord]:
        """JIT requests in a subscription or resource group (`/subscriptions/…[/resourceGroups/…]`).

        An item ARM lists without the required schedule is skipped and logged, so one odd
        request cannot hide the others.
        https://learn.microsoft.com/rest/api/managedapplications/jit-requests/list-by-resource-group
        """
        items = self._get_pages(
            f"{scope.rstrip('/')}/providers/Microsoft.Solutions/jitRequests",
            {"api-version": SOLUTIONS_API_VERSION},
        )
        records: list[JitRequestRecord] = []
        for item in items:
            try:
                records.append(mapping.jit_request(solutions.JitRequestDefinition(item)))
            except (ValueError, TypeError, AttributeError) as exc:
                log.warning("Skipped a JIT request ARM listed at %s: %s", scope, exc)
        return records

    def cancel_jit_request(self, jit_request_id: str) -> None:
        """DELETE a JIT request: cancels it while pending or active; no error if already gone."""
        parts = parse_resource_id(jit_request_id)
        client = self._solutions_client(str(parts["subscription"]))
        with translated():
            client.jit_requests.delete(str(parts["resource_group"]), str(parts["name"]))

    # PIM approvals ------------------------------------------------------------------------------

    def list_approvals_as_approver(self) -> list[ApprovalRecord]:
        """Role assignment approvals the caller may decide (`$filter=asApprover()`)."""
        items = self._authorization_client().role_assignment_approval.list(filter="asApprover()")
        return list(_each(items, mapping.approval))

    def get_approval(self, approval_id: str) -> ApprovalRecord:
        """One approval with its stages, by id or full ARM id."""
        with translated():
            approval = self._authorization_client().role_assignment_approval.get_by_id(
                _last_segment(approval_id)
            )
        return mapping.approval(approval)

    def decide_approval_stage(
        self, approval_id: str, stage_id: str, *, approve: bool, justification: str
    ) -> ApprovalStageRecord:
        """Approve or deny one stage of an approval, as the signed-in approver.

        The SDK sends the stage properties flat, not wrapped in `properties` as the REST example.
        https://learn.microsoft.com/rest/api/authorization/role-assignment-approval-step/patch
        """
        body = RoleAssignmentApprovalStepProperties(
            review_result="Approve" if approve else "Deny", justification=justification
        )
        with translated():
            stage = self._authorization_client().role_assignment_approval_step.patch(
                _last_segment(approval_id), _last_segment(stage_id), body
            )
        return mapping.approval_stage(stage)

    def list_access_requests(
        self, scope: str, *, as_approver: bool = False
    ) -> list[AccessRequestRecord]:
        """PIM role assignment schedule requests at a scope; each names its approval."""
        client = self._authorization_client(_subscription_of(scope))
        items = client.role_assignment_schedule_requests.list_for_scope(
            scope, filter="asApprover()" if as_approver else None
        )
        return list(_each(items, mapping.access_request))

    # Activity log -------------------------------------------------------------------------------

    def list_activity(
        self, resource_group_id: str, *, start: dt.datetime, end: dt.datetime
    ) -> Iterator[ActivityEventRecord]:
        """Activity log events of a resource group between two times (ARM keeps 90 days).

        No management SDK for Microsoft.Insights is installed, so this sends the documented
        request through the raw ARM pipeline (same credential, retries and TLS).
        https://learn.microsoft.com/rest/api/monitor/activity-logs/list
        """
        parts = parse_resource_id(resource_group_id)
        subscription_id = str(parts["subscription"])
        query = (
            f"eventTimestamp ge '{_iso(start)}' and eventTimestamp le '{_iso(end)}' "
            f"and resourceGroupName eq '{parts['resource_group']}'"
        )
        for event in self._get_pages(
            f"/subscriptions/{subscription_id}/providers/Microsoft.Insights/eventtypes/management/values",
            {"api-version": ACTIVITY_LOG_API_VERSION, "$filter": query},
        ):
            yield mapping.activity_event(event)

    # Listings as ARM sends them ------------------------------------------------------------------

    def _listing(
        self,
        path: str,
        api_version: str,
        read: Callable[[dict[str, Any]], R],
    ) -> Listing[R]:
        """A whole listing, every page."""
        items = tuple(self._get_pages(path, {"api-version": api_version}))
        return Listing(items=items, read=read)

    def _get_pages(self, path: str, query: dict[str, str]) -> Iterator[dict[str, Any]]:
        """The `value` items of a GET and of each `nextLink` after it."""
        url: str | None = f"{settings.ARM_URL.rstrip('/')}{path}?" + urllib.parse.urlencode(
            query, quote_via=urllib.parse.quote
        )
        while url:
            with translated():
                response = self._raw_client().send_request(HttpRequest("GET", url))
                if response.status_code != 200:
                    raise HttpResponseError(response=response, error_format=ARMErrorFormat)
                page = response.json()
            yield from page.get("value") or []
            url = page.get("nextLink")


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("activity log bounds must be aware datetimes")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Building a gateway ------------------------------------------------------------------------------


def tenant_gateway(tenant_id: str) -> SdkAzureGateway:
    """App-only access to a customer tenant, as the portal's service principal there."""
    return SdkAzureGateway(
        _app_credential(
            tenant_id,
            settings.ENTRA_CLIENT_ID,
            settings.ENTRA_CLIENT_SECRET or "",
            settings.ENTRA_LOGIN_URL,
            settings.AZURE_CA_BUNDLE,
            threading.get_ident(),
        ),
        owns_credential=False,
    )


def publisher_gateway() -> SdkAzureGateway:
    """App-only access as the publisher's automation app, in the publisher tenant."""
    return SdkAzureGateway(
        _app_credential(
            settings.PUBLISHER_TENANT_ID,
            settings.PUBLISHER_CLIENT_ID,
            settings.PUBLISHER_CLIENT_SECRET or "",
            settings.ENTRA_LOGIN_URL,
            settings.AZURE_CA_BUNDLE,
            threading.get_ident(),
        ),
        owns_credential=False,
    )


def app_token_expiry(tenant_id: str, *, publisher: bool = False) -> dt.datetime:
    """Ask Entra for an app-only ARM token in a tenant (the portal's app, or the publisher's
    automation app in the publisher tenant); when it expires. Raises the gateway's errors."""
    credential = _app_credential(
        tenant_id,
        settings.PUBLISHER_CLIENT_ID if publisher else settings.ENTRA_CLIENT_ID,
        (settings.PUBLISHER_CLIENT_SECRET if publisher else settings.ENTRA_CLIENT_SECRET) or "",
        settings.ENTRA_LOGIN_URL,
        settings.AZURE_CA_BUNDLE,
        threading.get_ident(),
    )
    with translated():
        token = credential.get_token(*ARM_CREDENTIAL_SCOPES)
    return dt.datetime.fromtimestamp(token.expires_on, tz=dt.UTC)


@functools.lru_cache(maxsize=4096)
def _app_credential(
    tenant_id: str,
    client_id: str,
    client_secret: str,
    authority: str,
    ca_bundle: str | None,
    thread: int,
) -> TokenCredential:
    """One app-only credential per tenant and thread, kept so its token (an hour) is reused by
    later syncs instead of asked for again; per thread because it uses the thread's transport."""
    return client_secret_credential(
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=client_secret,
        authority=authority,
        ca_bundle=ca_bundle,
    )


def gateway_for_token(token_provider: TokenProvider) -> SdkAzureGateway:
    """Delegated access as the signed-in person; `token_provider` returns (token, expires_on)."""
    return SdkAzureGateway(DelegatedCredential(token_provider))
