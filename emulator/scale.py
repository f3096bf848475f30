"""The generated `scale` scenario: the demo's publisher and offers, customers in bulk."""

import json
from pathlib import Path
from typing import Any

from emulator.ids import stable_id

DEMO_SCENARIO = Path(__file__).parent / "scenarios" / "demo.json"


def scale_data(
    tenants: int = 20, apps_per_tenant: int = 5, requests_per_app: int = 3
) -> dict[str, Any]:
    """A generated scenario: one publisher, `tenants` customers, apps and JIT requests in bulk."""
    demo = json.loads(DEMO_SCENARIO.read_text())
    publisher = demo["tenants"][0]
    scope = demo["jit_scope"]
    data: dict[str, Any] = {
        "name": "scale",
        "jit_scope": scope,
        "tenants": [publisher],
        "people": [p for p in demo["people"] if p["tenant"] == publisher["id"]],
        "groups": [],
        "apps": [a for a in demo["apps"] if a["key"] == "publisher"],
        "subscriptions": [s for s in demo["subscriptions"] if s["tenant"] == publisher["id"]],
        # The publisher's people write, and its automation app reads, the requests' scope.
        "role_assignments": [ra for ra in demo["role_assignments"] if ra["scope"] == scope],
        "offers": [o for o in demo["offers"] if "plan" in o],
        "applications": [],
        "jit_requests": [],
    }
    portal = dict(next(a for a in demo["apps"] if a["key"] == "portal"))
    portal["service_principals"] = {publisher["id"]: portal["service_principals"][publisher["id"]]}
    offers = [o["key"] for o in data["offers"] if o.get("jit")]
    outcomes = ["pending", "approved", "denied", "approved", "pending"]
    for t in range(tenants):
        tid = stable_id("scale-tenant", str(t))
        sub = stable_id("scale-subscription", str(t))
        admin = stable_id("scale-admin", str(t))
        data["tenants"].append(
            {
                "id": tid,
                "name": f"Customer {t:05d}",
                "domain": f"customer{t:05d}.onmicrosoft.com",
                "kind": "customer",
                "p2": t % 7 != 0,
            }
        )
        data["people"].append(
            {
                "oid": admin,
                "tenant": tid,
                "name": f"Admin {t:05d}",
                "upn": f"admin@customer{t:05d}.onmicrosoft.com",
                "roles": ["Customer.Admin"],
            }
        )
        data["subscriptions"].append(
            {"id": sub, "tenant": tid, "name": f"Customer {t:05d} production"}
        )
        data["role_assignments"].append(
            {"principal": admin, "role": "Owner", "scope": f"/subscriptions/{sub}"}
        )
        portal["service_principals"][tid] = stable_id("scale-portal-sp", str(t))
        # As in the demo: the portal's service principal reads the customer's subscription.
        data["role_assignments"].append(
            {
                "principal": portal["service_principals"][tid],
                "role": "Reader",
                "scope": f"/subscriptions/{sub}",
            }
        )
        for a in range(apps_per_tenant):
            offer = offers[a % len(offers)]
            name = f"app-{t:05d}-{a}"
            jit_on = True
            data["applications"].append(
                {
                    "name": name,
                    "subscription": sub,
                    "resource_group": "rg-managed-apps",
                    "location": "westeurope",
                    "offer": offer,
                    "provisioning_state": "Succeeded",
                    "created_ago": "P30D",
                    "jit_policy": {
                        "jitAccessEnabled": True,
                        "jitApprovalMode": "ManualApprove" if a % 2 == 0 else "AutoApprove",
                        "jitApprovers": [{"id": admin, "type": "user"}],
                        "maximumJitAccessDuration": "PT8H",
                    }
                    if jit_on
                    else None,
                }
            )
            if not jit_on:
                continue
            for r in range(requests_per_app):
                data["jit_requests"].append(
                    {
                        "name": f"j{t:05d}{a}{r}"[:10]
                        if requests_per_app <= 10
                        else f"j{t}-{a}-{r}",
                        "application": name,
                        "principal": "fe96399b-4112-4390-b6f7-5d487005120c",
                        "role": "Contributor",
                        "duration": "PT2H",
                        "created_ago": f"PT{(r + 1) * 3}H",
                        "start_ago": f"PT{(r + 1) * 3}H",
                        "outcome": outcomes[r % len(outcomes)],
                        "decided_by": admin,
                    }
                )
    data["apps"].insert(0, portal)
    return data
