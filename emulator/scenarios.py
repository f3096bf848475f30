"""Loading a scenario: plain JSON data files (`emulator/scenarios/*.json`, or any path) plus the
generated `scale`, built into a fresh `State`; seeded JIT requests are replayed through the state
machine."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

from emulator import jit
from emulator.authz import Principal
from emulator.ids import stable_id
from emulator.provisioning import add_application, ensure_resource_group
from emulator.records import (
    Application,
    ApplicationDefinition,
    AppRegistration,
    Group,
    Offer,
    Person,
    RoleAssignment,
    Subscription,
    Tenant,
)
from emulator.roles import BUILTIN_ROLES, OWNER, role_id
from emulator.scale import scale_data
from emulator.state import State

SCENARIO_DIR = Path(__file__).parent / "scenarios"


def available() -> list[str]:
    return [*sorted(p.stem for p in SCENARIO_DIR.glob("*.json")), "scale"]


def load(state: State, name: str, params: dict[str, Any] | None = None) -> None:
    """Replace everything in `state` with the named scenario (or a JSON file path)."""
    if name == "scale":
        data = scale_data(**(params or {}))
    else:
        path = Path(name) if name.endswith(".json") else SCENARIO_DIR / f"{name}.json"
        if not path.exists():
            raise ValueError(f"unknown scenario {name!r}; available: {', '.join(available())}")
        data = json.loads(path.read_text())
    fresh = State()
    build(fresh, data)
    with state.lock:
        keep = {"lock", "clock", "assumptions"}
        for key, value in vars(fresh).items():
            if key not in keep:
                setattr(state, key, value)
        state.clock.offset = dt.timedelta(0)
        state.scenario_name = str(data.get("name", name))
        # Rebuild time-dependent data against the live clock.
        state.clear_role_assignments()
        state.clear_jit_requests()
        state.jit_deadlines.clear()
        state.approvals.clear()
        state.schedule_requests.clear()
        state.activity.clear()
        _build_dynamic(state, data)


def _ago(now: dt.datetime, text: str | None) -> dt.datetime:
    return now - jit.parse_duration(text) if text else now


def build(state: State, data: dict[str, Any]) -> None:
    """Static directory and catalog data; time-dependent parts come from `_build_dynamic`."""
    state.scenario_name = str(data.get("name", ""))
    state.role_definitions = {r.id: r for r in BUILTIN_ROLES}
    for t in data.get("tenants", []):
        state.tenants[t["id"]] = Tenant(t["id"], t["name"], t["domain"], t["kind"], bool(t["p2"]))
    for p in data.get("people", []):
        first, _, last = p["name"].partition(" ")
        state.people[p["oid"]] = Person(
            p["oid"], p["tenant"], p["name"], p["upn"], list(p.get("roles", [])), first, last
        )
    for g in data.get("groups", []):
        state.groups[g["oid"]] = Group(g["oid"], g["tenant"], g["name"], list(g["members"]))
    for a in data.get("apps", []):
        state.apps[a["client_id"]] = AppRegistration(
            a["client_id"],
            a["name"],
            a["home_tenant"],
            list(a["secrets"]),
            list(a.get("redirect_uris", [])),
            list(a.get("app_roles", [])),
            dict(a.get("service_principals", {})),
        )
    for s in data.get("subscriptions", []):
        state.subscriptions[s["id"].lower()] = Subscription(s["id"], s["tenant"], s["name"])
    for o in data.get("offers", []):
        definition_id = None
        if o.get("definition"):
            d = o["definition"]
            definition = ApplicationDefinition(
                d["subscription"],
                d["resource_group"],
                d["name"],
                d.get("location", "westeurope"),
                _definition_properties(o),
            )
            state.definitions[definition.id.lower()] = definition
            ensure_resource_group(
                state, d["subscription"], d["resource_group"], definition.location
            )
            definition_id = definition.id
        state.offers[o["key"]] = Offer(
            key=o["key"],
            publisher_tenant_id=o["publisher"],
            display_name=o["display_name"],
            lock_level=o["lock_level"],
            authorizations=[
                {"principalId": a["principal"], "roleDefinitionId": role_id(a["role"])}
                for a in o["authorizations"]
            ],
            jit_enabled=bool(o.get("jit")),
            allowed_actions=list(o.get("allowed_actions", [])),
            allowed_data_actions=list(o.get("allowed_data_actions", [])),
            management_mode=o.get("management_mode", "Managed"),
            notification_url=o.get("notification_url"),
            plan=o.get("plan"),
            definition_id=definition_id,
            resources=list(o.get("resources", [])),
            activity=list(o.get("activity", [])),
        )


def _definition_properties(o: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "lockLevel": o["lock_level"],
        "displayName": o["display_name"],
        "isEnabled": True,
        "description": o.get("description", o["display_name"]),
        "authorizations": [
            {"principalId": a["principal"], "roleDefinitionId": role_id(a["role"])}
            for a in o["authorizations"]
        ],
        "artifacts": [
            {
                "name": "ApplicationResourceTemplate",
                "type": "Template",
                "uri": "https://packages.contoso.example/mainTemplate.json",
            },
            {
                "name": "CreateUiDefinition",
                "type": "Custom",
                "uri": "https://packages.contoso.example/createUiDefinition.json",
            },
        ],
        "packageFileUri": "https://packages.contoso.example/app.zip",
        "managementPolicy": {"mode": o.get("management_mode", "Managed")},
        "lockingPolicy": {
            "allowedActions": list(o.get("allowed_actions", [])),
            "allowedDataActions": list(o.get("allowed_data_actions", [])),
        },
        "deploymentPolicy": {"deploymentMode": "Incremental"},
        "provisioningState": "Succeeded",
    }
    if o.get("notification_url"):
        properties["notificationPolicy"] = {
            "notificationEndpoints": [{"uri": o["notification_url"]}]
        }
    return properties


def _build_dynamic(state: State, data: dict[str, Any]) -> None:
    now = state.now()
    for ra in data.get("role_assignments", []):
        role = role_id(ra["role"])
        name = ra.get("name") or stable_id(ra["scope"], ra["principal"], role)
        state.add_role_assignment(
            RoleAssignment(
                name=name,
                scope=ra["scope"],
                role_definition_id=role,
                principal_id=ra["principal"],
                principal_type=state.principal_type(ra["principal"]),
                created_on=now - dt.timedelta(days=60),
            )
        )
    owners = _subscription_owners(state)
    apps_by_name: dict[str, Application] = {}
    for a in data.get("applications", []):
        offer = state.offers[a["offer"]]
        created = _ago(now, a.get("created_ago"))
        app = add_application(
            state,
            offer=offer,
            subscription_id=a["subscription"],
            resource_group=a["resource_group"],
            name=a["name"],
            location=a.get("location", "westeurope"),
            provisioning_state=a.get("provisioning_state", "Succeeded"),
            jit_policy=a.get("jit_policy"),
            created_at=created,
            created_by={
                "oid": owners.get(a["subscription"].lower(), ""),
                "puid": "",
                "applicationId": "",
            },
            managed_resource_group=a.get("managed_resource_group"),
            with_resources=a.get("provisioning_state", "Succeeded") == "Succeeded",
        )
        apps_by_name[a["name"]] = app
        for event in offer.activity:
            resource = event["resource"].format(app=a["name"])
            rid = app.managed_resource_group_id + (f"/providers/{resource}" if resource else "")
            caller = event["caller"]
            caller_tenant = (
                state.people[caller].tenant_id
                if caller in state.people
                else offer.publisher_tenant_id
            )
            state.log_activity(
                resource_id=rid,
                operation=event["operation"],
                caller_oid=caller,
                caller_tenant_id=caller_tenant,
                at=max(created, _ago(now, event.get("ago"))),
            )
    state.jit_scope = str(data.get("jit_scope") or "")
    if state.jit_scope:
        parts = state.jit_scope.strip("/").split("/")
        ensure_resource_group(state, parts[1], parts[3], "westeurope")
    for r in data.get("jit_requests", []):
        _seed_jit_request(state, apps_by_name[r["application"]], r, now)
    jit.tick(state)


def _subscription_owners(state: State) -> dict[str, str]:
    """For each subscription, a person of its tenant holding Owner there (the purchaser)."""
    owners: dict[str, str] = {}
    for ra in state.role_assignments.values():
        parts = ra.scope.strip("/").split("/")
        person = state.people.get(ra.principal_id)
        if len(parts) != 2 or person is None or ra.role_definition_id != OWNER:
            continue
        subscription = state.subscriptions.get(parts[1].lower())
        if subscription and subscription.tenant_id == person.tenant_id:
            owners.setdefault(parts[1].lower(), person.oid)
    return owners


def jit_location(state: State, app: Application, given: dict[str, Any]) -> tuple[str, str]:
    """Where a scenario's (or a control call's) jitRequest goes: the subscription and resource
    group it names, else the scenario's `jit_scope`, else the application's own group."""
    if given.get("resource_group"):
        return str(given.get("subscription") or app.subscription_id), str(given["resource_group"])
    if state.jit_scope:
        parts = state.jit_scope.strip("/").split("/")
        return parts[1], parts[3]
    return app.subscription_id, app.resource_group


def _seed_jit_request(state: State, app: Application, r: dict[str, Any], now: dt.datetime) -> None:
    created = _ago(now, r.get("created_ago"))
    principal_oid = r["principal"]
    caller = Principal(
        oid=principal_oid,
        tenant_id=app.publisher_tenant_id,
        app_id=next(iter(state.apps), ""),
        name=state.principal_name(principal_oid),
        is_app=principal_oid not in state.people,
    )
    subscription, resource_group = jit_location(state, app, r)
    request = jit.create_request(
        state,
        subscription_id=subscription,
        resource_group=resource_group,
        name=r["name"],
        location=app.location,
        app=app,
        policies=[{"principalId": principal_oid, "roleDefinitionId": role_id(r["role"])}],
        schedule_type="Once",
        start=_ago(now, r.get("start_ago")),
        duration_text=r["duration"],
        caller=caller,
        at=created,
    )
    if request.provisioning_state == "Accepted":
        request.provisioning_state = "Succeeded"
    request.tags = {str(k): str(v) for k, v in (r.get("tags") or {}).items()}
    for event in r.get("activity", []):
        # What the elevated principal did during its grant: `after` is the time from the
        # request's start; the resource is in the application's managed resource group.
        resource = str(event.get("resource", "")).format(app=app.name)
        state.log_activity(
            resource_id=app.managed_resource_group_id
            + (f"/providers/{resource}" if resource else ""),
            operation=event["operation"],
            caller_oid=principal_oid,
            caller_tenant_id=app.publisher_tenant_id,
            status=event.get("status", "Succeeded"),
            at=request.start + jit.parse_duration(event.get("after") or "PT1M"),
        )
    outcome = r.get("outcome", "pending")
    decided_at = created + dt.timedelta(minutes=5)
    if request.state == "Pending" and outcome in ("approved", "denied"):
        jit.decide(
            state,
            request,
            approve=outcome == "approved",
            by_oid=r.get("decided_by", ""),
            justification="Approved for the maintenance window."
            if outcome == "approved"
            else "Not during the quarter close.",
            at=decided_at,
        )
    elif outcome == "canceled":
        jit.cancel(state, request, decided_at)
