"""Microsoft.Solutions long-running operations (operationStatuses, operationResults) and the
provider's operations list. `ArmContext.start_operation` starts them; `jit.tick` finishes them."""

from typing import Any

from werkzeug.wrappers import Response

from emulator import jit
from emulator.arm.core import ArmContext, Route, route
from emulator.http import ArmError, iso, json_response, not_found


def operation_status(ctx: ArmContext) -> Response:
    operation = ctx.state.operations.get(ctx.params["op"].lower()) or ctx.state.operations.get(
        ctx.params["op"]
    )
    if operation is None or operation.subscription_id.lower() != ctx.params["sub"].lower():
        raise not_found("Microsoft.Solutions/locations/operationStatuses", ctx.params["op"])
    jit.tick(ctx.state)
    body: dict[str, Any] = {
        "id": f"/subscriptions/{operation.subscription_id}/providers/Microsoft.Solutions/locations/{operation.location}/operationStatuses/{operation.id}",
        "name": operation.id,
        "status": operation.status,
        "startTime": iso(operation.started),
        "endTime": iso(operation.ended),
        "percentComplete": 100.0 if operation.status != "InProgress" else 50.0,
    }
    if operation.error:
        body["error"] = operation.error
    headers = {"Retry-After": "1"} if operation.status == "InProgress" else {}
    return json_response(body, 200, headers)


def operation_result(ctx: ArmContext) -> Response:
    operation = ctx.state.operations.get(ctx.params["op"])
    if operation is None or operation.subscription_id.lower() != ctx.params["sub"].lower():
        raise not_found("Microsoft.Solutions/locations/operationResults", ctx.params["op"])
    jit.tick(ctx.state)
    if operation.status == "InProgress":
        return json_response(
            None,
            202,
            {
                "Retry-After": "1",
                "Location": ctx.base + ctx.path + f"?api-version={ctx.api_version}",
            },
        )
    if operation.status == "Failed":
        raise ArmError(
            400,
            (operation.error or {}).get("code", "OperationFailed"),
            (operation.error or {}).get("message", "The operation failed."),
        )
    if operation.result is not None:
        return json_response(operation.result, 200)
    return json_response(None, 204)


def list_operations(ctx: ArmContext) -> Response:
    names = [
        ("Microsoft.Solutions/applications/read", "Read managed application"),
        ("Microsoft.Solutions/applications/write", "Create or update managed application"),
        ("Microsoft.Solutions/applications/delete", "Delete managed application"),
        ("Microsoft.Solutions/jitRequests/write", "Create or update JIT request"),
    ]
    return ctx.page(
        [
            {
                "name": n,
                "isDataAction": False,
                "display": {
                    "provider": "Microsoft Solutions",
                    "resource": n.split("/")[1],
                    "operation": d,
                    "description": d,
                },
            }
            for n, d in names
        ]
    )


def routes() -> list[Route]:
    return [
        route("GET", "/providers/Microsoft.Solutions/operations", list_operations, "solutions"),
        route(
            "GET",
            "/subscriptions/{sub}/providers/Microsoft.Solutions/locations/{loc}/operationStatuses/{op}",
            operation_status,
            "any",
        ),
        route(
            "GET",
            "/subscriptions/{sub}/providers/Microsoft.Solutions/locations/{loc}/operationResults/{op}",
            operation_result,
            "any",
        ),
    ]
