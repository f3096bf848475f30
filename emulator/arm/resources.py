"""Microsoft.Resources (resource groups, resources in a managed RG), subscriptions, activity log."""

import datetime as dt
from typing import Any

from werkzeug.wrappers import Response

from emulator import authz
from emulator.arm.core import (
    ArmContext,
    Route,
    parse_filter,
    require_resource_group,
    require_subscription,
    route,
)
from emulator.http import ArmError, iso, json_response, not_found
from emulator.jit import parse_time
from emulator.records import ActivityEvent, GenericResource, ResourceGroup

RG = "/subscriptions/{sub}/resourceGroups/{rg}"


def rg_json(rg: ResourceGroup) -> dict[str, Any]:
    return {
        "id": rg.id,
        "name": rg.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": rg.location,
        "managedBy": rg.managed_by,
        "tags": {},
        "properties": {"provisioningState": "Succeeded"},
    }


def resource_json(resource: GenericResource) -> dict[str, Any]:
    return {
        "id": resource.id,
        "name": resource.name,
        "type": resource.type,
        "location": resource.location,
        "tags": dict(resource.tags),
    }


def list_subscriptions(ctx: ArmContext) -> Response:
    visible = []
    for key in authz.subscriptions_to_consider(ctx.state, ctx.principal):
        sub = ctx.state.subscriptions[key]
        scope = f"/subscriptions/{sub.id}"
        if ctx.allowed("Microsoft.Resources/subscriptions/read", scope) or any(
            authz.scope_within(a.managed_resource_group_id, scope)
            and authz.is_allowed(
                ctx.state,
                ctx.principal,
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                a.managed_resource_group_id,
            )
            for a in authz.apps_within(ctx.state, scope)
        ):
            visible.append(
                {
                    "id": scope,
                    "subscriptionId": sub.id,
                    "tenantId": sub.tenant_id,
                    "displayName": sub.name,
                    "state": "Enabled",
                    "authorizationSource": "RoleBased",
                    "subscriptionPolicies": {
                        "locationPlacementId": "Public_2014-09-01",
                        "quotaId": "PayAsYouGo_2014-09-01",
                        "spendingLimit": "Off",
                    },
                }
            )
    return ctx.page(visible)


def list_resource_groups(ctx: ArmContext) -> Response:
    sub = require_subscription(ctx.state, ctx.params["sub"])
    prefix = f"/subscriptions/{sub}/".lower()
    groups = [
        rg
        for key, rg in ctx.state.resource_groups.items()
        if key.startswith(prefix)
        and ctx.allowed("Microsoft.Resources/subscriptions/resourceGroups/read", rg.id)
    ]
    groups.sort(key=lambda g: g.name.lower())
    return ctx.page([rg_json(g) for g in groups])


def get_resource_group(ctx: ArmContext) -> Response:
    name = require_resource_group(ctx.state, ctx.params["sub"], ctx.params["rg"])
    rg = ctx.state.resource_groups[
        f"/subscriptions/{ctx.params['sub']}/resourcegroups/{name}".lower()
    ]
    ctx.require("Microsoft.Resources/subscriptions/resourceGroups/read", rg.id)
    return json_response(rg_json(rg))


def list_resources(ctx: ArmContext) -> Response:
    name = require_resource_group(ctx.state, ctx.params["sub"], ctx.params["rg"])
    scope = (
        f"/subscriptions/{require_subscription(ctx.state, ctx.params['sub'])}/resourceGroups/{name}"
    )
    ctx.require("Microsoft.Resources/subscriptions/resourceGroups/resources/read", scope)
    prefix = scope.lower() + "/"
    found = sorted(
        (
            r
            for r in ctx.state.resources_in_subscription(ctx.params["sub"])
            if r.id.lower().startswith(prefix)
        ),
        key=lambda r: r.id.lower(),
    )
    return ctx.page([resource_json(r) for r in found])


def list_subscription_resources(ctx: ArmContext) -> Response:
    """Every resource of the subscription the caller may read (ARM filters by RBAC)."""
    sub = require_subscription(ctx.state, ctx.params["sub"])
    action = "Microsoft.Resources/subscriptions/resourceGroups/resources/read"
    resources = sorted(ctx.state.resources_in_subscription(sub), key=lambda r: r.id.lower())
    # A role that allows the read on the subscription allows it in every group below, so the
    # groups only need checking one by one when it does not.
    if ctx.allowed(action, f"/subscriptions/{sub}"):
        return ctx.page([resource_json(r) for r in resources])
    readable: dict[str, bool] = {}
    found = []
    for resource in resources:
        group = "/".join(resource.id.split("/")[:5])
        if group not in readable:
            readable[group] = ctx.allowed(action, group)
        if readable[group]:
            found.append(resource)
    return ctx.page([resource_json(r) for r in found])


def _resource_path(ctx: ArmContext) -> tuple[str, str, str, str | None]:
    """(resource id, resource type, canonical RG scope, action name for POST)."""
    sub = require_subscription(ctx.state, ctx.params["sub"])
    rg = require_resource_group(ctx.state, sub, ctx.params["rg"])
    segments = ctx.params["rest"].strip("/").split("/")
    action = segments.pop() if ctx.method == "POST" and len(segments) % 2 == 0 else None
    if len(segments) < 3 or len(segments) % 2 == 0:
        raise ArmError(
            400, "InvalidResourceId", f"The resource path '{ctx.params['rest']}' is invalid."
        )
    namespace = segments[0]
    types = segments[1::2]
    scope = f"/subscriptions/{sub}/resourceGroups/{rg}"
    rid = f"{scope}/providers/{'/'.join(segments)}"
    return rid, f"{namespace}/{'/'.join(types)}", scope, action


def generic_resource(ctx: ArmContext) -> Response:
    rid, rtype, scope, action = _resource_path(ctx)
    existing = ctx.state.resources.get(rid.lower())
    verb = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(
        ctx.method, "action"
    )
    operation = f"{rtype}/{action}/action" if action else f"{rtype}/{verb}"
    try:
        ctx.require(operation, rid)
    except ArmError:
        if verb != "read":
            ctx.state.log_activity(
                resource_id=rid,
                operation=operation,
                caller_oid=ctx.principal.oid,
                caller_tenant_id=ctx.principal.tenant_id,
                status="Failed",
            )
        raise
    if ctx.method == "GET":
        if existing is None:
            raise not_found(rtype, rid.rsplit("/", 1)[-1], scope.rsplit("/", 1)[-1])
        return json_response(resource_json(existing))
    if action:
        if existing is None:
            raise not_found(rtype, rid.rsplit("/", 1)[-1], scope.rsplit("/", 1)[-1])
        ctx.state.log_activity(
            resource_id=rid,
            operation=operation,
            caller_oid=ctx.principal.oid,
            caller_tenant_id=ctx.principal.tenant_id,
        )
        return json_response(None, 202, {"Retry-After": "1"})
    if ctx.method == "DELETE":
        if existing is None:
            return json_response(None, 204)
        ctx.state.delete_resource(rid)
        ctx.state.log_activity(
            resource_id=rid,
            operation=operation,
            caller_oid=ctx.principal.oid,
            caller_tenant_id=ctx.principal.tenant_id,
        )
        return json_response(None, 200)
    body = ctx.body()
    rg = ctx.state.resource_groups[scope.lower()]
    resource = existing or GenericResource(
        rid, rid.rsplit("/", 1)[-1], rtype, str(body.get("location") or rg.location)
    )
    if isinstance(body.get("tags"), dict):
        resource.tags = {str(k): str(v) for k, v in body["tags"].items()}
    if isinstance(body.get("properties"), dict):
        resource.properties.update(body["properties"])
    ctx.state.put_resource(resource)
    ctx.state.log_activity(
        resource_id=rid,
        operation=operation,
        caller_oid=ctx.principal.oid,
        caller_tenant_id=ctx.principal.tenant_id,
    )
    return json_response(resource_json(resource), 200 if existing else 201)


def _localized(value: str) -> dict[str, str]:
    return {"value": value, "localizedValue": value}


def event_json(event: ActivityEvent) -> dict[str, Any]:
    parts = event.resource_id.split("/")
    provider = (
        parts[6] if len(parts) > 6 and parts[5].lower() == "providers" else "Microsoft.Resources"
    )
    resource_type = (
        "/".join([provider, *parts[7::2]])
        if len(parts) > 7
        else "Microsoft.Resources/resourceGroups"
    )
    ticks = int(
        (event.timestamp - dt.datetime(1, 1, 1, tzinfo=dt.UTC)).total_seconds() * 10_000_000
    )
    return {
        "authorization": {"action": event.operation, "scope": event.resource_id},
        "caller": event.caller,
        "channels": "Operation",
        "claims": {
            "http://schemas.microsoft.com/identity/claims/objectidentifier": event.caller_oid,
            "http://schemas.microsoft.com/identity/claims/tenantid": event.caller_tenant_id,
        },
        "correlationId": event.correlation_id,
        "description": "",
        "eventDataId": event.event_id,
        "eventName": {"value": "EndRequest", "localizedValue": "End request"},
        "category": _localized(event.category),
        "id": f"{event.resource_id}/events/{event.event_id}/ticks/{ticks}",
        "level": event.level,
        "resourceGroupName": event.resource_group,
        "resourceProviderName": _localized(provider),
        "resourceId": event.resource_id,
        "resourceType": _localized(resource_type),
        "operationId": event.correlation_id,
        "operationName": _localized(event.operation),
        "properties": {"statusCode": "OK" if event.status == "Succeeded" else "Forbidden"},
        "status": _localized(event.status),
        "subStatus": {"value": "", "localizedValue": ""},
        "eventTimestamp": iso(event.timestamp),
        "submissionTimestamp": iso(event.timestamp + dt.timedelta(seconds=12)),
        "subscriptionId": event.subscription_id,
        "tenantId": event.caller_tenant_id,
    }


def activity_log(ctx: ArmContext) -> Response:
    sub = require_subscription(ctx.state, ctx.params["sub"])
    text = ctx.query.get("$filter", "")
    wanted = parse_filter(text)
    if "eventtimestamp>=" not in wanted:
        raise ArmError(400, "BadRequest", "The $filter must contain an 'eventTimestamp ge' clause.")
    start = parse_time(wanted["eventtimestamp>="])
    end = (
        parse_time(wanted["eventtimestamp<="]) if "eventtimestamp<=" in wanted else ctx.state.now()
    )
    if end - start > dt.timedelta(days=90):
        raise ArmError(400, "BadRequest", "The time range of the query cannot exceed 90 days.")
    scope = f"/subscriptions/{sub}"
    if "resourcegroupname" in wanted:
        scope += (
            f"/resourceGroups/{require_resource_group(ctx.state, sub, wanted['resourcegroupname'])}"
        )
    resource_uri = wanted.get("resourceuri") or wanted.get("resourceid")
    ctx.require("Microsoft.Insights/eventtypes/values/read", resource_uri or scope)
    # Azure keeps activity-log events for 90 days; older ones are not served, whatever the range.
    kept_from = max(start, ctx.state.now() - dt.timedelta(days=90))
    events = [
        e
        for e in ctx.state.activity
        if e.subscription_id.lower() == sub.lower()
        and kept_from <= e.timestamp <= end
        and authz.scope_within(e.resource_id, scope)
        and (not resource_uri or authz.scope_within(e.resource_id, resource_uri))
        and ("caller" not in wanted or e.caller.lower() == wanted["caller"].lower())
        and ("correlationid" not in wanted or e.correlation_id == wanted["correlationid"])
    ]
    events.sort(key=lambda e: e.timestamp, reverse=True)
    return ctx.page([event_json(e) for e in events])


def routes() -> list[Route]:
    r = "resources"
    return [
        route("GET", "/subscriptions", list_subscriptions, "subscriptions"),
        route(
            "GET",
            "/subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values",
            activity_log,
            "insights",
        ),
        route("GET", "/subscriptions/{sub}/resourcegroups", list_resource_groups, r),
        route("GET", "/subscriptions/{sub}/resources", list_subscription_resources, r),
        route("GET", RG, get_resource_group, r),
        route("GET", RG + "/resources", list_resources, r),
        route(
            "GET PUT PATCH DELETE POST",
            RG + "/providers/",
            generic_resource,
            "any",
            regex_tail=r"(?P<rest>(?!Microsoft\.(?:Authorization|Solutions)/).+)",
        ),
    ]
