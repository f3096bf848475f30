"""The in-memory store of the emulated cloud: every record by id, plus the indexes (by principal,
subscription, application, managed resource group) that keep authorization checks and listings
cheap at scale, the scenario clock and the runtime records. Every read or write happens under
`State.lock`.
"""

import datetime as dt
import heapq
import threading
from typing import Any

from emulator.ids import new_id, subscription_of
from emulator.records import (
    ActivityEvent,
    Application,
    ApplicationDefinition,
    AppRegistration,
    Approval,
    GenericResource,
    Group,
    JitRequest,
    Offer,
    Operation,
    Person,
    ResourceGroup,
    RoleAssignment,
    RoleDefinition,
    ScheduleRequest,
    Subscription,
    Tenant,
    WebhookDelivery,
)


class Clock:
    """Scenario time: wall-clock time plus an offset the control API can move forward."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, delta: dt.timedelta) -> None:
        self.offset += delta


class State:
    """All scenario data plus the emulator's runtime records (requests log, LROs, tokens)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.scenario_name = ""
        self.tenants: dict[str, Tenant] = {}
        self.people: dict[str, Person] = {}
        self.groups: dict[str, Group] = {}
        self.apps: dict[str, AppRegistration] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.resource_groups: dict[str, ResourceGroup] = {}  # key: lower(id)
        self.role_definitions: dict[str, RoleDefinition] = {}
        self.role_assignments: dict[str, RoleAssignment] = {}  # key: name (GUID)
        # Indexes kept by add_/remove_ methods, so authorization checks stay cheap at scale.
        self.assignments_by_principal: dict[str, dict[str, RoleAssignment]] = {}
        self.assignments_by_subscription: dict[str, dict[str, RoleAssignment]] = {}
        self.apps_by_subscription: dict[str, dict[str, Application]] = {}
        self.apps_by_principal: dict[str, set[str]] = {}
        self.offers: dict[str, Offer] = {}
        self.definitions: dict[str, ApplicationDefinition] = {}  # key: lower(id)
        self.applications: dict[str, Application] = {}  # key: lower(id)
        self.mrg_index: dict[str, str] = {}  # lower(managed RG id) -> lower(application id)
        self.resources: dict[str, GenericResource] = {}  # key: lower(id)
        self.resources_by_subscription: dict[str, dict[str, GenericResource]] = {}
        self.jit_by_subscription: dict[str, dict[str, JitRequest]] = {}
        self.jit_by_application: dict[str, dict[str, JitRequest]] = {}
        self.jit_requests: dict[str, JitRequest] = {}  # key: lower(id)
        # (when, lower(id)) of the next clock event of each open JIT request; stale entries are skipped
        self.jit_deadlines: list[tuple[dt.datetime, str]] = []
        self.sp_index: dict[str, tuple[AppRegistration, str]] = {}
        self.approvals: dict[str, Approval] = {}
        self.schedule_requests: dict[str, ScheduleRequest] = {}
        self.activity: list[ActivityEvent] = []
        self.operations: dict[str, Operation] = {}
        self.operations_in_progress: dict[str, Operation] = {}  # the ones the clock must finish
        self.webhooks: list[WebhookDelivery] = []
        self.requests_log: list[dict[str, Any]] = []
        self.requests_logged = 0
        self.auth_codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.tokens_not_before: float = 0.0  # tokens issued before this epoch time are rejected
        self.page_size = 100
        self.lro_delay_seconds = 0.0
        self.jit_approval_timeout = dt.timedelta(hours=24)
        # Behaviours no Azure document shows, switched on only where a test or demo asks
        # (docs/emulator.md, "Assumptions").
        self.assumptions: set[str] = set()
        # Where the scenario's publisher keeps its jitRequests (a resource group id).
        self.jit_scope = ""

    def assumes(self, name: str) -> bool:
        return name in self.assumptions

    def now(self) -> dt.datetime:
        return self.clock.now()

    # Directory lookups -------------------------------------------------------------------------

    def tenant(self, key: str) -> Tenant | None:
        """A tenant by GUID or domain name."""
        key = key.lower()
        if key in self.tenants:
            return self.tenants[key]
        return next((t for t in self.tenants.values() if t.domain.lower() == key), None)

    def service_principal(self, oid: str) -> tuple[AppRegistration, str] | None:
        if not self.sp_index:
            for app in self.apps.values():
                for tenant_id, sp_oid in app.service_principals.items():
                    self.sp_index[sp_oid] = (app, tenant_id)
        return self.sp_index.get(oid)

    def principal_type(self, oid: str) -> str:
        if oid in self.people:
            return "User"
        if oid in self.groups:
            return "Group"
        if self.service_principal(oid):
            return "ServicePrincipal"
        return "User"

    def principal_name(self, oid: str) -> str:
        if oid in self.people:
            return self.people[oid].name
        if oid in self.groups:
            return self.groups[oid].name
        sp = self.service_principal(oid)
        return sp[0].name if sp else oid

    def groups_of(self, oid: str) -> set[str]:
        return {g.oid for g in self.groups.values() if oid in g.members}

    # Resource lookups --------------------------------------------------------------------------

    def add_application(self, app: Application) -> None:
        key = app.id.lower()
        self.applications[key] = app
        self.mrg_index[app.managed_resource_group_id.lower()] = key
        self.apps_by_subscription.setdefault(app.subscription_id.lower(), {})[key] = app
        for auth in app.authorizations:
            self.apps_by_principal.setdefault(auth["principalId"].lower(), set()).add(key)

    def remove_application(self, app: Application) -> None:
        key = app.id.lower()
        self.applications.pop(key, None)
        self.mrg_index.pop(app.managed_resource_group_id.lower(), None)
        self.apps_by_subscription.get(app.subscription_id.lower(), {}).pop(key, None)
        for auth in app.authorizations:
            self.apps_by_principal.get(auth["principalId"].lower(), set()).discard(key)

    def put_resource(self, resource: GenericResource) -> None:
        key = resource.id.lower()
        self.resources[key] = resource
        self.resources_by_subscription.setdefault(subscription_of(key), {})[key] = resource

    def delete_resource(self, resource_id: str) -> None:
        key = resource_id.lower()
        self.resources.pop(key, None)
        self.resources_by_subscription.get(subscription_of(key), {}).pop(key, None)

    def resources_in_subscription(self, subscription_id: str) -> list[GenericResource]:
        return list(self.resources_by_subscription.get(subscription_id.lower(), {}).values())

    def apps_in_subscription(self, subscription_id: str) -> list[Application]:
        return list(self.apps_by_subscription.get(subscription_id.lower(), {}).values())

    def add_role_assignment(self, assignment: RoleAssignment) -> None:
        self.remove_role_assignment(assignment.name)
        self.role_assignments[assignment.name] = assignment
        principal = assignment.principal_id.lower()
        self.assignments_by_principal.setdefault(principal, {})[assignment.name] = assignment
        subscription = subscription_of(assignment.scope)
        self.assignments_by_subscription.setdefault(subscription, {})[assignment.name] = assignment

    def remove_role_assignment(self, name: str) -> RoleAssignment | None:
        assignment = self.role_assignments.pop(name, None)
        if assignment is not None:
            self.assignments_by_principal.get(assignment.principal_id.lower(), {}).pop(name, None)
            self.assignments_by_subscription.get(subscription_of(assignment.scope), {}).pop(
                name, None
            )
        return assignment

    def clear_role_assignments(self) -> None:
        self.role_assignments.clear()
        self.assignments_by_principal.clear()
        self.assignments_by_subscription.clear()

    def assignments_for_principals(self, ids: set[str]) -> list[RoleAssignment]:
        found: list[RoleAssignment] = []
        for principal in ids:
            found.extend(self.assignments_by_principal.get(principal.lower(), {}).values())
        return found

    def assignments_near(self, scope: str) -> list[RoleAssignment]:
        """Assignments in the scope's subscription plus those above every subscription."""
        subscription = subscription_of(scope)
        if not subscription:
            return list(self.role_assignments.values())
        return [
            *self.assignments_by_subscription.get(subscription, {}).values(),
            *self.assignments_by_subscription.get("", {}).values(),
        ]

    def add_jit_request(self, jit: JitRequest) -> None:
        key = jit.id.lower()
        self.jit_requests[key] = jit
        self.jit_by_subscription.setdefault(jit.subscription_id.lower(), {})[key] = jit
        self.jit_by_application.setdefault(jit.application_id.lower(), {})[key] = jit
        self.schedule_jit(jit)

    def remove_jit_request(self, jit: JitRequest) -> None:
        key = jit.id.lower()
        self.jit_requests.pop(key, None)
        self.jit_by_subscription.get(jit.subscription_id.lower(), {}).pop(key, None)
        self.jit_by_application.get(jit.application_id.lower(), {}).pop(key, None)

    def clear_jit_requests(self) -> None:
        self.jit_requests.clear()
        self.jit_by_subscription.clear()
        self.jit_by_application.clear()

    def jit_requests_of(self, application_id: str) -> list[JitRequest]:
        return list(self.jit_by_application.get(application_id.lower(), {}).values())

    def jit_requests_in_subscription(self, subscription_id: str) -> list[JitRequest]:
        return list(self.jit_by_subscription.get(subscription_id.lower(), {}).values())

    def schedule_jit(self, jit: JitRequest) -> None:
        """Remember when the clock must next look at this request."""
        if jit.state == "Pending":
            heapq.heappush(
                self.jit_deadlines, (jit.created_at + self.jit_approval_timeout, jit.id.lower())
            )
        elif jit.state == "Approved":
            heapq.heappush(
                self.jit_deadlines, (jit.end if jit.grant_ids else jit.start, jit.id.lower())
            )

    def application_for_mrg(self, scope: str) -> Application | None:
        """The application whose managed resource group is or contains `scope`, if any."""
        parts = scope.lower().strip("/").split("/")
        if len(parts) < 4 or parts[0] != "subscriptions" or parts[2] != "resourcegroups":
            return None
        key = self.mrg_index.get("/" + "/".join(parts[:4]))
        return self.applications.get(key) if key else None

    def application_at(self, scope: str) -> Application | None:
        """The application whose resource id is or contains `scope`, if any."""
        parts = scope.lower().strip("/").split("/")
        if len(parts) < 8:
            return None
        return self.applications.get("/" + "/".join(parts[:8]))

    def log_activity(
        self,
        *,
        resource_id: str,
        operation: str,
        caller_oid: str,
        caller_tenant_id: str,
        status: str = "Succeeded",
        at: dt.datetime | None = None,
    ) -> None:
        parts = resource_id.split("/")
        if len(parts) < 5 or parts[3].lower() != "resourcegroups":
            return
        person = self.people.get(caller_oid)
        sp = self.service_principal(caller_oid)
        caller = person.upn if person else (sp[0].client_id if sp else caller_oid)
        self.activity.append(
            ActivityEvent(
                event_id=new_id(),
                subscription_id=parts[2],
                resource_group=parts[4],
                resource_id=resource_id,
                operation=operation,
                caller=caller,
                caller_oid=caller_oid,
                caller_tenant_id=caller_tenant_id,
                timestamp=at or self.now(),
                status=status,
            )
        )
