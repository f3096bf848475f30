"""What deploying an offer creates: the application, its resource group and managed resource
group, and the resources inside the managed resource group. Used by scenarios and by ARM's PUT."""

import datetime as dt
import re
from typing import Any

from emulator.ids import stable_id
from emulator.records import Application, GenericResource, Offer, ResourceGroup
from emulator.state import State


def ensure_resource_group(
    state: State, subscription_id: str, name: str, location: str, managed_by: str | None = None
) -> ResourceGroup:
    rg = ResourceGroup(subscription_id, name, location, managed_by)
    existing = state.resource_groups.get(rg.id.lower())
    if existing:
        return existing
    state.resource_groups[rg.id.lower()] = rg
    return rg


def add_application(
    state: State,
    *,
    offer: Offer,
    subscription_id: str,
    resource_group: str,
    name: str,
    location: str,
    provisioning_state: str,
    jit_policy: dict[str, Any] | None,
    created_at: dt.datetime,
    created_by: dict[str, str],
    managed_resource_group: str | None = None,
    with_resources: bool = True,
) -> Application:
    """Create an application, its managed resource group and the resources inside it."""
    mrg_name = managed_resource_group or f"mrg-{name}"
    mrg_id = f"/subscriptions/{subscription_id}/resourceGroups/{mrg_name}"
    if not offer.jit_enabled:
        jit_policy = None
    app = Application(
        subscription_id=subscription_id,
        resource_group=resource_group,
        name=name,
        location=location,
        offer_key=offer.key,
        kind="ServiceCatalog" if offer.definition_id else "MarketPlace",
        managed_resource_group_id=mrg_id,
        provisioning_state=provisioning_state,
        publisher_tenant_id=offer.publisher_tenant_id,
        authorizations=[dict(a) for a in offer.authorizations],
        lock_level=offer.lock_level,
        allowed_actions=list(offer.allowed_actions),
        allowed_data_actions=list(offer.allowed_data_actions),
        management_mode=offer.management_mode,
        jit_access_policy=jit_policy,
        notification_url=offer.notification_url,
        plan=dict(offer.plan) if offer.plan else None,
        definition_id=offer.definition_id,
        billing_id=stable_id("billing", subscription_id, resource_group, name)
        if offer.plan
        else None,
        created_by=created_by,
        updated_by=dict(created_by),
        created_at=created_at,
        updated_at=created_at,
    )
    state.add_application(app)
    ensure_resource_group(state, subscription_id, resource_group, location)
    ensure_resource_group(state, subscription_id, mrg_name, location, managed_by=app.id)
    if with_resources:
        compact = re.sub(r"[^a-z0-9]", "", name.lower())[:18]
        for template in offer.resources:
            resource_name = template["name"].format(app=name, compact=compact)
            resource_type = template["type"]
            type_parts = resource_type.split("/")
            name_parts = resource_name.split("/")
            path = "/".join(f"{t}/{n}" for t, n in zip(type_parts[1:], name_parts, strict=False))
            rid = f"{mrg_id}/providers/{type_parts[0]}/{path}"
            state.put_resource(GenericResource(rid, resource_name, resource_type, location))
    return app
