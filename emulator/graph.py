"""Microsoft Graph: /v1.0/me, /v1.0/subscribedSkus (which says whether a tenant has Entra ID P2)
and /v1.0/organization."""

from typing import Any

import jwt
from werkzeug.wrappers import Request, Response

from emulator.entra.tokens import GRAPH_RESOURCE, TokenIssuer
from emulator.http import json_response
from emulator.records import Person

P2_SKU = {
    "skuId": "84a661c4-e949-4bd2-a560-ed7766fcaf2b",
    "skuPartNumber": "AAD_PREMIUM_P2",
    "servicePlans": [
        {
            "servicePlanId": "eec0eb4f-6444-4f95-aba0-50c24d67f998",
            "servicePlanName": "AAD_PREMIUM_P2",
            "provisioningStatus": "Success",
            "appliesTo": "User",
        },
        {
            "servicePlanId": "41781fb2-bc02-4b7c-bd55-b576c07bb09d",
            "servicePlanName": "AAD_PREMIUM",
            "provisioningStatus": "Success",
            "appliesTo": "User",
        },
    ],
}
P1_SKU = {
    "skuId": "078d2b04-f1bd-4111-bbd4-b4b1b354cef4",
    "skuPartNumber": "AAD_PREMIUM",
    "servicePlans": [
        {
            "servicePlanId": "41781fb2-bc02-4b7c-bd55-b576c07bb09d",
            "servicePlanName": "AAD_PREMIUM",
            "provisioningStatus": "Success",
            "appliesTo": "User",
        },
    ],
}


def graph(issuer: TokenIssuer, request: Request, path: str) -> Response:
    header = request.headers.get("Authorization", "")
    try:
        claims = issuer.verify(
            header.removeprefix("Bearer ").strip(),
            [GRAPH_RESOURCE, "00000003-0000-0000-c000-000000000000"],
        )
    except jwt.InvalidTokenError as exc:
        return json_response(
            {
                "error": {
                    "code": "InvalidAuthenticationToken",
                    "message": f"Access token validation failure. {exc}",
                }
            },
            401,
        )
    with issuer.state.lock:
        tenant = issuer.state.tenants.get(claims["tid"])
        person = issuer.state.people.get(claims["oid"])
        lowered = path.lower().rstrip("/")
        if lowered == "/v1.0/me":
            if person is None:
                return json_response(
                    {
                        "error": {
                            "code": "BadRequest",
                            "message": "/me request is only valid with delegated authentication flow.",
                        }
                    },
                    400,
                )
            return json_response(graph_user(person))
        if lowered == "/v1.0/subscribedskus":
            skus = (
                [P2_SKU, P1_SKU]
                if tenant and tenant.p2
                else [P1_SKU]
                if tenant and tenant.kind == "customer"
                else []
            )
            return json_response(
                {
                    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus",
                    "value": [
                        {
                            "accountId": claims["tid"],
                            "accountName": tenant.name if tenant else "",
                            "appliesTo": "User",
                            "capabilityStatus": "Enabled",
                            "consumedUnits": 10,
                            "id": f"{claims['tid']}_{sku['skuId']}",
                            "prepaidUnits": {
                                "enabled": 25,
                                "suspended": 0,
                                "warning": 0,
                                "lockedOut": 0,
                            },
                            "servicePlans": sku["servicePlans"],
                            "skuId": sku["skuId"],
                            "skuPartNumber": sku["skuPartNumber"],
                            "subscribedSkus": [],
                        }
                        for sku in skus
                    ],
                }
            )
        if lowered == "/v1.0/organization" and tenant:
            return json_response(
                {
                    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization",
                    "value": [
                        {
                            "id": tenant.id,
                            "displayName": tenant.name,
                            "verifiedDomains": [
                                {
                                    "name": tenant.domain,
                                    "isDefault": True,
                                    "isInitial": True,
                                    "type": "Managed",
                                }
                            ],
                        }
                    ],
                }
            )
    return json_response(
        {
            "error": {
                "code": "Request_ResourceNotFound",
                "message": f"Resource '{path}' does not exist.",
            }
        },
        404,
    )


def graph_user(person: Person) -> dict[str, Any]:
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
        "businessPhones": [],
        "displayName": person.name,
        "givenName": person.given_name,
        "jobTitle": person.job_title,
        "mail": person.upn,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": person.surname,
        "userPrincipalName": person.upn,
        "mailNickname": person.upn.split("@")[0],
        "companyName": None,
        "id": person.oid,
    }
