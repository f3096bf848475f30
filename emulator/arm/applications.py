"""Microsoft.Solutions applications: list, get, PUT (create), PATCH, DELETE and their LROs, and the
actions updateAccess, refreshPermissions and listAllowedUpgradePlans."""

from typing import Any

from werkzeug.wrappers import Response

from emulator import jit, webhooks
from emulator.arm.core import (
    ArmContext,
    Route,
    find_solutions_resource,
    require_resource_group,
    require_subscription,
    route,
)
from emulator.http import ArmError, iso, json_response
from emulator.provisioning import add_application
from emulator.records import Application, Operation
from emulator.state import State

APPS = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Solutions/applications"
APPROVAL_MODES = {"NotSpecified", "AutoApprove", "ManualApprove"}


def app_json(state: State, app: Application) -> dict[str, Any]:
    properties: dict[str, Any] = {"managedResourceGroupId": app.managed_resource_group_id}
    if app.definition_id:
        properties["applicationDefinitionId"] = app.definition_id
    properties.update(
        parameters=app.parameters,
        outputs={},
        provisioningState=app.provisioning_state,
        publisherTenantId=app.publisher_tenant_id,
        authorizations=[dict(a) for a in app.authorizations],
        managementMode=app.management_mode,
        customerSupport={
            "contactName": "Contoso Support",
            "email": "support@contoso.example",
            "phone": "+1 555 0100",
        },
        supportUrls={"publicAzure": "https://support.contoso.example", "governmentCloud": None},
        artifacts=[
            {
                "name": "ViewDefinition",
                "uri": "https://packages.contoso.example/viewDefinition.json",
                "type": "Custom",
            }
        ],
        createdBy=dict(app.created_by),
        updatedBy=dict(app.updated_by),
    )
    properties["billingDetails"] = {"resourceUsageId": app.billing_id} if app.billing_id else None
    properties["jitAccessPolicy"] = app.jit_access_policy
    return {
        "id": app.id,
        "name": app.name,
        "type": "Microsoft.Solutions/applications",
        "location": app.location,
        "tags": dict(app.tags),
        "kind": app.kind,
        "managedBy": None,
        "identity": None,
        "sku": None,
        "plan": dict(app.plan) if app.plan else None,
        "systemData": {
            "createdBy": app.created_by.get("oid", ""),
            "createdByType": "User",
            "createdAt": iso(app.created_at),
            "lastModifiedBy": app.updated_by.get("oid", ""),
            "lastModifiedByType": "User",
            "lastModifiedAt": iso(app.updated_at),
        },
        "properties": properties,
    }


def find_app(ctx: ArmContext) -> Application:
    return find_solutions_resource(ctx, "applications", ctx.state.applications)


def list_apps(ctx: ArmContext) -> Response:
    sub = require_subscription(ctx.state, ctx.params["sub"])
    scope = f"/subscriptions/{sub}"
    if "rg" in ctx.params:
        scope += f"/resourceGroups/{require_resource_group(ctx.state, sub, ctx.params['rg'])}"
    ctx.require("Microsoft.Solutions/applications/read", scope)
    prefix = scope.lower() + "/"
    apps = [a for a in ctx.state.apps_in_subscription(sub) if a.id.lower().startswith(prefix)]
    apps.sort(key=lambda a: a.id.lower())
    return ctx.page([app_json(ctx.state, a) for a in apps])


def get_app(ctx: ArmContext) -> Response:
    app = find_app(ctx)
    ctx.require("Microsoft.Solutions/applications/read", app.id)
    return json_response(app_json(ctx.state, app))


def _validate_jit_policy(app: Application | None, policy: Any) -> dict[str, Any]:
    if not isinstance(policy, dict) or not isinstance(policy.get("jitAccessEnabled"), bool):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "'jitAccessPolicy.jitAccessEnabled' is required and must be a boolean.",
        )
    mode = policy.get("jitApprovalMode", "NotSpecified")
    if mode not in APPROVAL_MODES:
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"'jitApprovalMode' must be one of {sorted(APPROVAL_MODES)}; got '{mode}'.",
        )
    approvers = policy.get("jitApprovers") or []
    if not isinstance(approvers, list) or any(
        not isinstance(a, dict) or not a.get("id") for a in approvers
    ):
        raise ArmError(400, "InvalidRequestContent", "Each entry of 'jitApprovers' needs an 'id'.")
    for approver in approvers:
        if approver.get("type", "user") not in ("user", "group"):
            raise ArmError(
                400, "InvalidRequestContent", "'jitApprovers[].type' must be 'user' or 'group'."
            )
    maximum = policy.get("maximumJitAccessDuration", "PT8H")
    jit.parse_duration(maximum)
    if app is not None and policy["jitAccessEnabled"] != app.jit_enabled:
        raise ArmError(
            400,
            "JitAccessPolicyChangeNotAllowed",
            "Just-in-time access can only be turned on or off when the application is deployed.",
        )
    return {
        "jitAccessEnabled": policy["jitAccessEnabled"],
        "jitApprovalMode": mode,
        "jitApprovers": [
            {
                "id": a["id"],
                "type": a.get("type", "user"),
                **({"displayName": a["displayName"]} if a.get("displayName") else {}),
            }
            for a in approvers
        ],
        "maximumJitAccessDuration": maximum,
    }


def _finish_update(app_key: str) -> Any:
    def effect(state: State) -> None:
        app = state.applications.get(app_key)
        if app is not None and app.provisioning_state == "Updating":
            app.provisioning_state = "Succeeded"
            webhooks.notify(state, app, "PATCH", "Succeeded")

    return effect


def patch_app(ctx: ArmContext) -> Response:
    app = find_app(ctx)
    ctx.require("Microsoft.Solutions/applications/write", app.id)
    body = ctx.body()
    if app.provisioning_state in ("Deleting", "Accepted", "Running", "Updating"):
        raise ArmError(
            409,
            "Conflict",
            f"The application '{app.name}' is '{app.provisioning_state}'; try again later.",
        )
    properties = body.get("properties") or {}
    if not isinstance(properties, dict):
        raise ArmError(400, "InvalidRequestContent", "'properties' must be an object.")
    policy = None
    if "jitAccessPolicy" in properties:
        policy = _validate_jit_policy(app, properties["jitAccessPolicy"])
    if "tags" in body and not isinstance(body["tags"], dict):
        raise ArmError(400, "InvalidRequestContent", "'tags' must be an object.")
    if policy is not None:
        app.jit_access_policy = policy
    if isinstance(body.get("tags"), dict):
        app.tags = {str(k): str(v) for k, v in body["tags"].items()}
    app.updated_by = {"oid": ctx.principal.oid, "puid": "", "applicationId": ctx.principal.app_id}
    app.updated_at = ctx.state.now()
    app.provisioning_state = "Updating"
    ctx.state.log_activity(
        resource_id=app.id,
        operation="Microsoft.Solutions/applications/write",
        caller_oid=ctx.principal.oid,
        caller_tenant_id=ctx.principal.tenant_id,
    )
    operation = ctx.start_operation(
        subscription_id=app.subscription_id,
        resource_id=app.id,
        location=app.location,
        effect=_finish_update(app.id.lower()),
    )
    return json_response(app_json(ctx.state, app), 202, ctx.operation_headers(operation))


def _finish_delete(app_key: str) -> Any:
    def effect(state: State) -> None:
        app = state.applications.get(app_key)
        if app is None:
            return
        for request in state.jit_requests_of(app_key):
            if request.grant_ids:
                jit.expire(state, request, state.now())
        mrg = app.managed_resource_group_id.lower()
        for resource in state.resources_in_subscription(app.subscription_id):
            if resource.id.lower().startswith(mrg + "/"):
                state.delete_resource(resource.id)
        state.resource_groups.pop(mrg, None)
        state.remove_application(app)
        app.provisioning_state = "Deleted"
        webhooks.notify(state, app, "DELETE", "Deleted")

    return effect


def delete_app(ctx: ArmContext) -> Response:
    app = find_app(ctx)
    ctx.require("Microsoft.Solutions/applications/delete", app.id)
    if app.provisioning_state != "Deleting":
        app.provisioning_state = "Deleting"
        webhooks.notify(ctx.state, app, "DELETE", "Deleting")
        ctx.state.log_activity(
            resource_id=app.id,
            operation="Microsoft.Solutions/applications/delete",
            caller_oid=ctx.principal.oid,
            caller_tenant_id=ctx.principal.tenant_id,
        )
    operation = ctx.start_operation(
        subscription_id=app.subscription_id,
        resource_id=app.id,
        location=app.location,
        effect=_finish_delete(app.id.lower()),
    )
    return json_response(None, 202, ctx.operation_headers(operation))


def _offer_for(state: State, body: dict[str, Any]) -> Any:
    plan = body.get("plan") or {}
    definition_id = (body.get("properties") or {}).get("applicationDefinitionId")
    for offer in state.offers.values():
        if (
            definition_id
            and offer.definition_id
            and offer.definition_id.lower() == str(definition_id).lower()
        ):
            return offer
        if (
            plan
            and offer.plan
            and all(
                str(plan.get(k, "")).lower() == offer.plan[k].lower()
                for k in ("publisher", "product", "name")
            )
        ):
            return offer
    raise ArmError(
        400,
        "InvalidApplicationPackage" if definition_id else "MarketplacePurchaseEligibilityFailed",
        "The application definition or Marketplace plan in the request does not exist.",
    )


def _finish_create(app_key: str) -> Any:
    def effect(state: State) -> None:
        app = state.applications.get(app_key)
        if app is not None and app.provisioning_state == "Accepted":
            app.provisioning_state = "Succeeded"
            webhooks.notify(state, app, "PUT", "Succeeded")

    return effect


def create_application(
    ctx: ArmContext, *, subscription_id: str, resource_group: str, name: str, body: dict[str, Any]
) -> tuple[Application, Operation]:
    """A customer deploys an offer (ARM PUT, or the control API's purchase)."""
    state = ctx.state
    offer = _offer_for(state, body)
    properties = body.get("properties") or {}
    mrg_id = str(
        properties.get("managedResourceGroupId")
        or f"/subscriptions/{subscription_id}/resourceGroups/mrg-{name}"
    )
    mrg_parts = mrg_id.strip("/").split("/")
    if len(mrg_parts) != 4 or mrg_parts[1].lower() != subscription_id.lower():
        raise ArmError(
            400,
            "InvalidManagedResourceGroupId",
            f"The managed resource group id '{mrg_id}' is invalid.",
        )
    if mrg_id.lower() in state.resource_groups:
        raise ArmError(
            409,
            "ManagedResourceGroupExists",
            f"The managed resource group '{mrg_parts[3]}' already exists.",
        )
    policy = None
    if properties.get("jitAccessPolicy") is not None and offer.jit_enabled:
        policy = _validate_jit_policy(None, properties["jitAccessPolicy"])
    elif offer.jit_enabled:
        policy = {
            "jitAccessEnabled": True,
            "jitApprovalMode": "AutoApprove",
            "jitApprovers": [],
            "maximumJitAccessDuration": "PT8H",
        }
    app = add_application(
        state,
        offer=offer,
        subscription_id=subscription_id,
        resource_group=resource_group,
        name=name,
        location=str(body.get("location") or "westeurope"),
        provisioning_state="Accepted",
        jit_policy=policy,
        created_at=state.now(),
        created_by={"oid": ctx.principal.oid, "puid": "", "applicationId": ctx.principal.app_id},
        managed_resource_group=mrg_parts[3],
    )
    app.parameters = dict(properties.get("parameters") or {})
    app.tags = {str(k): str(v) for k, v in (body.get("tags") or {}).items()}
    webhooks.notify(state, app, "PUT", "Accepted")
    state.log_activity(
        resource_id=app.id,
        operation="Microsoft.Solutions/applications/write",
        caller_oid=ctx.principal.oid,
        caller_tenant_id=ctx.principal.tenant_id,
    )
    operation = ctx.start_operation(
        subscription_id=subscription_id,
        resource_id=app.id,
        location=app.location,
        effect=_finish_create(app.id.lower()),
    )
    return app, operation


def put_app(ctx: ArmContext) -> Response:
    p = ctx.params
    sub = require_subscription(ctx.state, p["sub"])
    rg = require_resource_group(ctx.state, sub, p["rg"])
    key = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Solutions/applications/{p['name']}".lower()
    existing = ctx.state.applications.get(key)
    if existing is not None:
        return patch_app(ctx)
    if not 3 <= len(p["name"]) <= 64:
        raise ArmError(
            400,
            "InvalidResourceName",
            f"The resource name '{p['name']}' is invalid; it must be 3-64 characters.",
        )
    ctx.require(
        "Microsoft.Solutions/applications/write", f"/subscriptions/{sub}/resourceGroups/{rg}"
    )
    body = ctx.body()
    if not body.get("kind"):
        raise ArmError(400, "InvalidRequestContent", "The 'kind' property is required.")
    app, operation = create_application(
        ctx, subscription_id=sub, resource_group=rg, name=p["name"], body=body
    )
    return json_response(
        app_json(ctx.state, app), 201, ctx.operation_headers(operation, location_header=False)
    )


def update_access(ctx: ArmContext) -> Response:
    app = find_app(ctx)
    ctx.require("Microsoft.Solutions/applications/updateAccess/action", app.id)
    body = ctx.body()
    lowered = {k.lower(): v for k, v in body.items()}
    status, sub_status = lowered.get("status"), lowered.get("substatus")
    metadata = lowered.get("metadata")
    if (
        status not in ("NotSpecified", "Elevate", "Remove")
        or not isinstance(metadata, dict)
        or not sub_status
    ):
        raise ArmError(
            400, "InvalidRequestContent", "'Metadata', 'Status' and 'SubStatus' are required."
        )
    origin = str({k.lower(): v for k, v in metadata.items()}.get("originrequestid") or "").lower()
    requests = [
        r
        for r in ctx.state.jit_requests_of(app.id)
        if not origin or origin in (r.id.lower(), r.name.lower())
    ]
    requests.sort(key=lambda r: r.created_at)
    now = ctx.state.now()
    # A documented call with an undocumented effect: answered always, deciding only when the
    # `update-access-decides` assumption is on.
    decides = ctx.state.assumes("update-access-decides")
    if decides and status == "Elevate" and sub_status in ("Approved", "Denied"):
        pending = [r for r in requests if r.state == "Pending"]
        if not pending:
            raise ArmError(
                409, "Conflict", "There is no pending just-in-time access request to decide."
            )
        jit.decide(
            ctx.state,
            pending[0],
            approve=sub_status == "Approved",
            by_oid=ctx.principal.oid,
            justification=f"Decided through updateAccess by {lowered.get('approver') or ctx.caller_name()}",
            at=now,
        )
    elif decides and status == "Remove" and sub_status in ("Expired", "Timeout"):
        for request in requests:
            if request.state == "Approved":
                jit.expire(ctx.state, request, now)
    jit.tick(ctx.state)
    operation = ctx.start_operation(
        subscription_id=app.subscription_id, resource_id=app.id, location=app.location, effect=None
    )
    operation.result = body
    headers = ctx.operation_headers(operation)
    del headers["Azure-AsyncOperation"]
    return json_response(body, 202, headers)


def refresh_permissions(ctx: ArmContext) -> Response:
    app = find_app(ctx)
    ctx.require("Microsoft.Solutions/applications/refreshPermissions/action", app.id)
    operation = ctx.start_operation(
        subscription_id=app.subscription_id, resource_id=app.id, location=app.location, effect=None
    )
    headers = ctx.operation_headers(operation)
    del headers["Azure-AsyncOperation"]
    return json_response(None, 202, headers)


def list_allowed_upgrade_plans(ctx: ArmContext) -> Response:
    app = find_app(ctx)
    ctx.require("Microsoft.Solutions/applications/read", app.id)
    return json_response({"value": [dict(app.plan)] if app.plan else []})


def routes() -> list[Route]:
    s = "solutions"
    return [
        route(
            "GET", "/subscriptions/{sub}/providers/Microsoft.Solutions/applications", list_apps, s
        ),
        route("GET", APPS, list_apps, s),
        route("GET", APPS + "/{name}", get_app, s),
        route("PATCH", APPS + "/{name}", patch_app, s),
        route("PUT", APPS + "/{name}", put_app, s),
        route("DELETE", APPS + "/{name}", delete_app, s),
        route("POST", APPS + "/{name}/updateAccess", update_access, s),
        route("POST", APPS + "/{name}/refreshPermissions", refresh_permissions, s),
        route("POST", APPS + "/{name}/listAllowedUpgradePlans", list_allowed_upgrade_plans, s),
    ]
