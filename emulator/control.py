"""The control API under `/_emulator/...`: scenarios, clock, faults, requests log, acting as people.

Loopback-only; when the server has a control key, the `X-Emulator-Key` header must carry it.
"""

import datetime as dt
import ipaddress
import json
from typing import TYPE_CHECKING, Any

import isodate
from werkzeug.wrappers import Request, Response

from emulator import jit, provisioning, scenarios
from emulator.arm.applications import app_json, create_application
from emulator.arm.core import ArmContext
from emulator.arm.jit_requests import jit_json
from emulator.assumptions import checked_assumptions
from emulator.authz import Principal
from emulator.http import ArmError, iso, json_response
from emulator.ids import new_id
from emulator.roles import role_id

if TYPE_CHECKING:
    from emulator.server import EmulatorServer


def _error(status: int, message: str) -> Response:
    return json_response(
        {"error": {"code": "BadRequest" if status == 400 else "NotFound", "message": message}},
        status,
    )


def _principal_for(server: "EmulatorServer", oid: str) -> Principal:
    state = server.state
    if oid in state.people:
        person = state.people[oid]
        return Principal(oid, person.tenant_id, next(iter(state.apps), ""), person.name, False)
    sp = state.service_principal(oid)
    if sp is None:
        raise ValueError(f"unknown principal {oid}")
    return Principal(oid, sp[1], sp[0].client_id, sp[0].name, True)


def _context(server: "EmulatorServer", request: Request, oid: str) -> ArmContext:
    return ArmContext(
        request,
        server.state,
        server.https_url,
        request.path,
        {},
        _principal_for(server, oid),
        {},
        "2023-12-01-preview",
    )


def _duration(body: dict[str, Any]) -> dt.timedelta:
    if "seconds" in body:
        return dt.timedelta(seconds=float(body["seconds"]))
    value = isodate.parse_duration(str(body.get("duration", "")))
    if not isinstance(value, dt.timedelta):
        raise ValueError("duration must be days/hours/minutes/seconds")
    return value


def info(server: "EmulatorServer") -> dict[str, Any]:
    state = server.state
    with state.lock:
        return {
            "scenario": state.scenario_name,
            "https_url": server.https_url,
            "http_url": server.http_url,
            "ca_bundle": server.ca_bundle,
            "clock": iso(state.now()),
            "clock_offset_seconds": state.clock.offset.total_seconds(),
            "throttling": server.throttle.enabled,
            "assumptions": sorted(state.assumptions),
            "tenants": [vars(t) for t in state.tenants.values()],
            "people": [vars(p) for p in state.people.values()],
            "apps": [
                {
                    "client_id": a.client_id,
                    "name": a.name,
                    "home_tenant": a.home_tenant,
                    "service_principals": a.service_principals,
                }
                for a in state.apps.values()
            ],
            "subscriptions": [vars(s) for s in state.subscriptions.values()],
            "counts": {
                "applications": len(state.applications),
                "jit_requests": len(state.jit_requests),
                "approvals": len(state.approvals),
                "role_assignments": len(state.role_assignments),
            },
        }


def handle(server: "EmulatorServer", request: Request, path: str) -> Response:
    remote = request.remote_addr or ""
    try:
        loopback = ipaddress.ip_address(remote).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return _error(403, "The control API only answers on the loopback interface.")
    if server.control_key and request.headers.get("X-Emulator-Key") != server.control_key:
        return _error(403, "Missing or wrong X-Emulator-Key header.")
    try:
        body = json.loads(request.get_data() or b"{}") if request.method in ("POST", "PUT") else {}
        return _route(server, request, path.removeprefix("/_emulator").rstrip("/"), body)
    except (ValueError, KeyError, TypeError) as exc:
        return _error(400, str(exc))
    except ArmError as error:
        return json_response(error.body(), error.status)


def _route(server: "EmulatorServer", request: Request, path: str, body: dict[str, Any]) -> Response:
    state = server.state
    method = request.method
    if path in ("", "/info") and method == "GET":
        return json_response(info(server))
    if path == "/health":
        return json_response({"status": "ok"})
    if path == "/scenarios" and method == "GET":
        return json_response({"available": scenarios.available(), "current": state.scenario_name})
    if path == "/reset" and method == "POST":
        server.reset(body.get("scenario"), **(body.get("params") or {}))
        return json_response(info(server))
    if path == "/clock" and method == "GET":
        return json_response(
            {"now": iso(state.now()), "offset_seconds": state.clock.offset.total_seconds()}
        )
    if path == "/clock/advance" and method == "POST":
        server.advance_clock(_duration(body))
        return json_response(
            {"now": iso(state.now()), "offset_seconds": state.clock.offset.total_seconds()}
        )
    if path == "/faults":
        if method == "GET":
            return json_response({"faults": server.faults.snapshot()})
        if method == "POST":
            return json_response(server.inject_fault(**body).to_json(), 201)
        if method == "DELETE":
            server.faults.clear()
            return json_response({"faults": []})
    if path == "/settings" and method == "POST":
        if "assumptions" in body:
            try:
                chosen = checked_assumptions(body["assumptions"])
            except ValueError as exc:
                return _error(400, str(exc))
            with state.lock:
                state.assumptions = chosen
        with state.lock:
            if "throttling" in body:
                server.throttle.enabled = bool(body["throttling"])
                server.throttle.reset()
            if "page_size" in body:
                state.page_size = max(1, int(body["page_size"]))
            if "lro_delay_seconds" in body:
                state.lro_delay_seconds = float(body["lro_delay_seconds"])
        if "notification_url" in body:
            server.set_notification_url(body["notification_url"])
        return json_response(
            {
                "throttling": server.throttle.enabled,
                "page_size": state.page_size,
                "lro_delay_seconds": state.lro_delay_seconds,
                "notification_url": server.notification_url,
                "assumptions": sorted(state.assumptions),
            }
        )
    if path == "/requests" and method == "GET":
        since = int(request.args.get("since", "0"))
        with state.lock:
            entries = [e for e in state.requests_log if e["seq"] >= since]
        return json_response({"requests": entries})
    if path == "/webhooks" and method == "GET":
        with state.lock:
            return json_response({"deliveries": [vars(d) for d in state.webhooks]})
    if path == "/tokens" and method == "POST":
        resource = body.get("resource", "https://management.azure.com")
        return json_response(
            {"access_token": server.token_for(body["oid"], resource, body.get("lifetime"))}
        )
    if path == "/tokens/revoke" and method == "POST":
        # Every token issued so far now fails with 401 ExpiredAuthenticationToken.
        import time

        with state.lock:
            state.tokens_not_before = time.time() + 1
            if body.get("refresh_tokens", True):
                for record in state.refresh_tokens.values():
                    record["expires_at"] = 0
        return json_response({"revoked": True})
    if path.startswith("/act/") and method == "POST":
        with state.lock:
            return _act(server, request, path.removeprefix("/act/"), body)
    return _error(404, f"No control endpoint {method} /_emulator{path}")


def _act(server: "EmulatorServer", request: Request, action: str, body: dict[str, Any]) -> Response:
    """Things people do outside the portal, in "the Azure portal"."""
    state = server.state
    now = state.now()
    if action == "purchase":
        ctx = _context(server, request, body["as"])
        sub = body["subscription"]
        rg = body.get("resource_group", "rg-" + body["name"])
        provisioning.ensure_resource_group(state, sub, rg, body.get("location", "westeurope"))
        offer = state.offers[body["offer"]]
        arm_body: dict[str, Any] = {
            "location": body.get("location", "westeurope"),
            "kind": "ServiceCatalog" if offer.definition_id else "MarketPlace",
            "plan": offer.plan,
            "properties": {
                "applicationDefinitionId": offer.definition_id,
                "jitAccessPolicy": body.get("jit_policy"),
            },
        }
        ctx.require(
            "Microsoft.Solutions/applications/write", f"/subscriptions/{sub}/resourceGroups/{rg}"
        )
        app, _ = create_application(
            ctx, subscription_id=sub, resource_group=rg, name=body["name"], body=arm_body
        )
        jit.tick(state)
        return json_response(app_json(state, app), 201)
    if action == "jit-request":
        ctx = _context(server, request, body["as"])
        app = state.applications[body["application_id"].lower()]
        subscription, resource_group = scenarios.jit_location(state, app, body)
        created = jit.create_request(
            state,
            subscription_id=subscription,
            resource_group=resource_group,
            name=body.get("name") or new_id()[:8],
            location=app.location,
            app=app,
            policies=[
                {
                    "principalId": body.get("principal", body["as"]),
                    "roleDefinitionId": role_id(body.get("role", "Contributor")),
                }
            ],
            schedule_type="Once",
            start=jit.parse_time(body["start"]) if body.get("start") else now,
            duration_text=body.get("duration", "PT1H"),
            caller=ctx.principal,
            at=now,
        )
        if created.provisioning_state == "Accepted":
            created.provisioning_state = "Succeeded"
        jit.tick(state)
        return json_response(jit_json(created), 201)
    if action == "decide":
        # What an approver does in the Azure portal's JIT Access blade.
        request_obj = state.jit_requests.get(str(body.get("jit_request_id", "")).lower())
        if request_obj is None:
            return _error(404, "No such JIT request")
        try:
            jit.decide_in_portal(
                state,
                request_obj,
                oid=str(body.get("as", "")),
                approve=body.get("decision", "Approve") == "Approve",
                justification=str(body.get("justification", "Decided in the Azure portal.")),
            )
        except ArmError as exc:
            return json_response({"error": {"code": exc.code, "message": exc.message}}, exc.status)
        return json_response(jit_json(request_obj))
    if action == "cancel":
        request_obj = state.jit_requests[body["jit_request_id"].lower()]
        jit.cancel(state, request_obj, now)
        return json_response(jit_json(request_obj))
    return _error(404, f"No such action '{action}'")
