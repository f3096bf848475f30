"""What the portal reads about a tenant from Microsoft Graph with the person's sign-in token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

P2_SERVICE_PLAN = "AAD_PREMIUM_P2"


@dataclass(frozen=True)
class TenantFacts:
    display_name: str  # empty when Graph did not say
    has_entra_p2: str  # "yes", "no" or "unknown" (Tenant.P2 values)


def tenant_facts(session: requests.Session, graph_token: str) -> TenantFacts:
    """The tenant's name (GET /organization) and whether it has Entra ID P2 (subscribedSkus).

    subscribedSkus needs a permission that not every tenant consents to; without an answer the
    licence stays unknown rather than guessed.
    """
    headers = {"Authorization": f"Bearer {graph_token}"}
    display_name = ""
    has_p2 = "unknown"
    try:
        organization = session.get(f"{settings.GRAPH_URL}/v1.0/organization", headers=headers)
        if organization.status_code == 200:
            orgs = organization.json().get("value") or [{}]
            display_name = str(orgs[0].get("displayName") or "")
        skus = session.get(f"{settings.GRAPH_URL}/v1.0/subscribedSkus", headers=headers)
        if skus.status_code == 200:
            has_p2 = "yes" if _has_p2(skus.json().get("value", [])) else "no"
    except (requests.RequestException, ValueError):
        pass
    return TenantFacts(display_name=display_name, has_entra_p2=has_p2)


def _has_p2(skus: list[dict[str, Any]]) -> bool:
    for sku in skus:
        if sku.get("capabilityStatus") != "Enabled":
            continue
        for plan in sku.get("servicePlans") or []:
            if plan.get("servicePlanName") == P2_SERVICE_PLAN and plan.get(
                "provisioningStatus", "Success"
            ) in {"Success", "PendingActivation"}:
                return True
    return False
