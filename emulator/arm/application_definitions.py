"""Microsoft.Solutions applicationDefinitions (Service Catalog): list, get, PUT, PATCH tags, DELETE."""

from typing import Any

from werkzeug.wrappers import Response

from emulator.arm.core import (
    ArmContext,
    Route,
    require_resource_group,
    require_subscription,
    route,
)
from emulator.http import ArmError, json_response, not_found
from emulator.records import ApplicationDefinition

DEFS = (
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Solutions/applicationDefinitions"
)


def definition_json(definition: ApplicationDefinition) -> dict[str, Any]:
    return {
        "id": definition.id,
        "name": definition.name,
        "type": "Microsoft.Solutions/applicationDefinitions",
        "location": definition.location,
        "tags": dict(definition.tags),
        "managedBy": None,
        "sku": None,
        "properties": {
            "artifacts": [],
            "authorizations": [],
            "deploymentPolicy": None,
            "lockingPolicy": None,
            "managementPolicy": None,
            "notificationPolicy": None,
            "policies": [],
            **definition.properties,
        },
    }


def list_definitions(ctx: ArmContext) -> Response:
    sub = require_subscription(ctx.state, ctx.params["sub"])
    scope = f"/subscriptions/{sub}"
    if "rg" in ctx.params:
        scope += f"/resourceGroups/{require_resource_group(ctx.state, sub, ctx.params['rg'])}"
    ctx.require("Microsoft.Solutions/applicationDefinitions/read", scope)
    prefix = scope.lower() + "/"
    found = sorted(
        (d for k, d in ctx.state.definitions.items() if k.startswith(prefix)),
        key=lambda d: d.id.lower(),
    )
    return ctx.page([definition_json(d) for d in found])


def definition(ctx: ArmContext) -> Response:
    p = ctx.params
    sub = require_subscription(ctx.state, p["sub"])
    rg = require_resource_group(ctx.state, sub, p["rg"])
    rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Solutions/applicationDefinitions/{p['name']}"
    found = ctx.state.definitions.get(rid.lower())
    if ctx.method == "GET":
        ctx.require("Microsoft.Solutions/applicationDefinitions/read", rid)
        if found is None:
            raise not_found("Microsoft.Solutions/applicationDefinitions", p["name"], rg)
        return json_response(definition_json(found))
    if ctx.method == "DELETE":
        ctx.require("Microsoft.Solutions/applicationDefinitions/delete", rid)
        if found is None:
            return json_response(None, 204)
        del ctx.state.definitions[rid.lower()]
        return json_response(None, 200)
    ctx.require("Microsoft.Solutions/applicationDefinitions/write", rid)
    body = ctx.body()
    if ctx.method == "PATCH":
        if found is None:
            raise not_found("Microsoft.Solutions/applicationDefinitions", p["name"], rg)
        found.tags = {str(k): str(v) for k, v in (body.get("tags") or {}).items()}
        return json_response(definition_json(found))
    properties = body.get("properties")
    if not isinstance(properties, dict) or properties.get("lockLevel") not in (
        "None",
        "CanNotDelete",
        "ReadOnly",
    ):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "'properties.lockLevel' is required: CanNotDelete, ReadOnly or None.",
        )
    created = found is None
    new = ApplicationDefinition(
        sub,
        rg,
        p["name"],
        str(body.get("location") or "westeurope"),
        {**properties, "provisioningState": "Succeeded"},
        {str(k): str(v) for k, v in (body.get("tags") or {}).items()},
    )
    ctx.state.definitions[rid.lower()] = new
    return json_response(definition_json(new), 201 if created else 200)


def routes() -> list[Route]:
    s = "solutions"
    return [
        route(
            "GET",
            "/subscriptions/{sub}/providers/Microsoft.Solutions/applicationDefinitions",
            list_definitions,
            s,
        ),
        route("GET", DEFS, list_definitions, s),
        route("GET PUT PATCH DELETE", DEFS + "/{name}", definition, s),
    ]
