"""Microsoft.Solutions jitRequests: PUT (LRO), get, list, PATCH tags, DELETE (cancel or remove).

The state machine behind them is `emulator.jit`."""

from typing import Any

from werkzeug.wrappers import Response

from emulator import jit
from emulator.arm.core import (
    ArmContext,
    Route,
    find_solutions_resource,
    require_resource_group,
    require_subscription,
    route,
)
from emulator.http import ArmError, iso, json_response
from emulator.records import JitRequest
from emulator.state import State

JITS = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Solutions/jitRequests"


def jit_json(request: JitRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": request.id,
        "name": request.name,
        "type": "Microsoft.Solutions/jitRequests",
        "tags": dict(request.tags),
        "properties": {
            "applicationResourceId": request.application_id,
            "publisherTenantId": request.publisher_tenant_id,
            "jitAuthorizationPolicies": [dict(p) for p in request.policies],
            "jitSchedulingPolicy": {
                "type": request.schedule_type,
                "duration": request.duration_text,
                "startTime": iso(request.start),
            },
            "provisioningState": request.provisioning_state,
            "jitRequestState": request.state,
            "createdBy": dict(request.created_by),
            "updatedBy": dict(request.updated_by),
        },
    }
    if request.location:
        body["location"] = request.location
    return body


def find_jit(ctx: ArmContext) -> JitRequest:
    return find_solutions_resource(ctx, "jitRequests", ctx.state.jit_requests)


def jit_path_id(ctx: ArmContext) -> str:
    """The jitRequest id named by the route, as ARM authorizes it (before it looks it up)."""
    p = ctx.params
    return (
        f"/subscriptions/{p['sub']}/resourceGroups/{p['rg']}"
        f"/providers/Microsoft.Solutions/jitRequests/{p['name']}"
    )


def list_jits(ctx: ArmContext) -> Response:
    sub = require_subscription(ctx.state, ctx.params["sub"])
    scope = f"/subscriptions/{sub}"
    if "rg" in ctx.params:
        scope += f"/resourceGroups/{require_resource_group(ctx.state, sub, ctx.params['rg'])}"
    prefix = scope.lower() + "/"
    # ARM authorizes the listing at its scope; a right lower down does not make it readable.
    ctx.require("Microsoft.Solutions/jitRequests/read", scope)
    in_scope = [
        r for r in ctx.state.jit_requests_in_subscription(sub) if r.id.lower().startswith(prefix)
    ]
    in_scope.sort(key=lambda r: r.created_at)
    # jitRequests lists are not pageable in the SDK: everything comes back in one response.
    return json_response({"value": [jit_json(r) for r in in_scope]})


def get_jit(ctx: ArmContext) -> Response:
    ctx.require("Microsoft.Solutions/jitRequests/read", jit_path_id(ctx))
    return json_response(jit_json(find_jit(ctx)))


def _finish_jit(key: str) -> Any:
    def effect(state: State) -> dict[str, str] | None:
        request = state.jit_requests.get(key)
        if request is None:
            return None
        if request.state == "Failed":
            return {
                "code": "JitRequestFailed",
                "message": "Just-in-time access requires Microsoft Entra ID P2 in the customer's tenant.",
            }
        if request.provisioning_state == "Accepted":
            request.provisioning_state = "Succeeded"
        return None

    return effect


def put_jit(ctx: ArmContext) -> Response:
    p = ctx.params
    sub = require_subscription(ctx.state, p["sub"])
    rg = require_resource_group(ctx.state, sub, p["rg"])
    rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Solutions/jitRequests/{p['name']}"
    # RBAC comes first, as in ARM: being named in an application's authorizations gives no
    # right to write jitRequests anywhere.
    ctx.require("Microsoft.Solutions/jitRequests/write", rid)
    body = ctx.body()
    properties = body.get("properties")
    if not isinstance(properties, dict):
        raise ArmError(
            400, "InvalidRequestContent", "The request content must contain 'properties'."
        )
    app_id = properties.get("applicationResourceId")
    policies = properties.get("jitAuthorizationPolicies")
    schedule = properties.get("jitSchedulingPolicy")
    if (
        not isinstance(app_id, str)
        or not isinstance(policies, list)
        or not isinstance(schedule, dict)
    ):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "'applicationResourceId', 'jitAuthorizationPolicies' and 'jitSchedulingPolicy' are required.",
        )
    app = ctx.state.applications.get(app_id.lower())
    if app is None:
        raise ArmError(
            404, "ResourceNotFound", f"The managed application '{app_id}' was not found."
        )
    existing = ctx.state.jit_requests.get(rid.lower())
    if existing is not None:
        same = existing.application_id.lower() == app.id.lower() and [
            (x["principalId"], x["roleDefinitionId"]) for x in existing.policies
        ] == [
            (
                str(x.get("principalId", "")).lower(),
                jit.role_guid(str(x.get("roleDefinitionId", ""))),
            )
            for x in policies
            if isinstance(x, dict)
        ]
        if not same:
            raise ArmError(
                409,
                "Conflict",
                f"The just-in-time access request '{p['name']}' already exists with different content.",
            )
        return json_response(jit_json(existing), 200)
    request = jit.create_request(
        ctx.state,
        subscription_id=sub,
        resource_group=rg,
        name=p["name"],
        location=body.get("location"),
        app=app,
        policies=[x for x in policies if isinstance(x, dict)],
        schedule_type=str(schedule.get("type") or "Once"),
        start=jit.parse_time(schedule.get("startTime") or ctx.now_text()),
        duration_text=schedule.get("duration"),
        caller=ctx.principal,
        at=ctx.state.now(),
    )
    ctx.state.log_activity(
        resource_id=request.id,
        operation="Microsoft.Solutions/jitRequests/write",
        caller_oid=ctx.principal.oid,
        caller_tenant_id=ctx.principal.tenant_id,
    )
    operation = ctx.start_operation(
        subscription_id=sub,
        resource_id=request.id,
        location=app.location,
        effect=_finish_jit(request.id.lower()),
    )
    body_out = jit_json(request)
    if request.provisioning_state == "Failed":
        body_out["properties"]["provisioningState"] = "Accepted"
    return json_response(body_out, 201, ctx.operation_headers(operation, location_header=False))


def patch_jit(ctx: ArmContext) -> Response:
    ctx.require("Microsoft.Solutions/jitRequests/write", jit_path_id(ctx))
    request = find_jit(ctx)
    tags = ctx.body().get("tags")
    if not isinstance(tags, dict):
        raise ArmError(
            400, "InvalidRequestContent", "A jitRequests PATCH carries only 'tags' (an object)."
        )
    request.tags = {str(k): str(v) for k, v in tags.items()}
    return json_response(jit_json(request))


def delete_jit(ctx: ArmContext) -> Response:
    p = ctx.params
    ctx.require("Microsoft.Solutions/jitRequests/delete", jit_path_id(ctx))
    require_resource_group(ctx.state, p["sub"], p["rg"])
    request = ctx.state.jit_requests.get(jit_path_id(ctx).lower())
    if request is None:
        return json_response(None, 204)
    if request.state in ("Pending", "Approved"):
        # Cancel, keeping the request visible as Canceled; finished requests are removed.
        jit.cancel(ctx.state, request, ctx.state.now())
    else:
        ctx.state.remove_jit_request(request)
    return json_response(None, 200)


def routes() -> list[Route]:
    s = "solutions"
    return [
        route(
            "GET", "/subscriptions/{sub}/providers/Microsoft.Solutions/jitRequests", list_jits, s
        ),
        route("GET", JITS, list_jits, s),
        route("GET", JITS + "/{name}", get_jit, s),
        route("PUT", JITS + "/{name}", put_jit, s),
        route("PATCH", JITS + "/{name}", patch_jit, s),
        route("DELETE", JITS + "/{name}", delete_jit, s),
    ]
