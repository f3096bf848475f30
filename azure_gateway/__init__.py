"""The one gateway to Azure. Only this package imports `azure.*`.

Build a gateway with `tenant_gateway(tenant_id)` (app-only, a customer tenant),
`publisher_gateway()` (app-only, the publisher's automation app) or
`gateway_for_token(token_provider)` (delegated, as the signed-in person). Methods return the
records in `azure_gateway.records` and raise the errors in `azure_gateway.errors`.
`count_responses()` tallies ARM's answers (and 429s) within a block (`azure_gateway.observe`).
"""

from azure_gateway.errors import (
    AuthenticationFailed,
    AzureError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    OperationFailed,
    Throttled,
    Transient,
)
from azure_gateway.gateway import (
    SdkAzureGateway,
    app_token_expiry,
    gateway_for_token,
    publisher_gateway,
    tenant_gateway,
)
from azure_gateway.observe import count_responses
from azure_gateway.protocol import AzureGateway, Listing

__all__ = [
    "AuthenticationFailed",
    "AzureError",
    "AzureGateway",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Listing",
    "NotFound",
    "OperationFailed",
    "SdkAzureGateway",
    "Throttled",
    "Transient",
    "app_token_expiry",
    "count_responses",
    "gateway_for_token",
    "publisher_gateway",
    "tenant_gateway",
]
