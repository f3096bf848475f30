"""How every SDK client is built: pinned API versions, retries, the shared transport."""

from __future__ import annotations

from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.pipeline import PipelineResponse, policies
from azure.core.pipeline.policies import RetryPolicy
from azure.core.rest import HttpRequest
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy
from azure.profiles import ProfileDefinition
from django.conf import settings

from azure_gateway.observe import ObservePolicy
from azure_gateway.transport import shared_transport

# Client credentials and delegated tokens both ask for this scope; `.default` is the only form
# the client-credentials grant accepts.
ARM_CREDENTIAL_SCOPES = ["https://management.azure.com/.default"]

# API versions, pinned so an SDK upgrade cannot move us to a version the emulator (or our
# mapping) does not know.
SOLUTIONS_API_VERSION = "2023-12-01-preview"
RESOURCES_API_VERSION = "2024-03-01"
SUBSCRIPTIONS_API_VERSION = "2022-12-01"
ACTIVITY_LOG_API_VERSION = "2015-04-01"
AUTHORIZATION_API_VERSION = "2022-04-01"
AUTHORIZATION_PROFILE = ProfileDefinition(
    {
        "azure.mgmt.authorization.AuthorizationManagementClient": {
            # roleAssignments, roleDefinitions, denyAssignments, permissions
            None: AUTHORIZATION_API_VERSION,
            "role_assignment_approval": "2021-01-01-preview",
            "role_assignment_approval_step": "2021-01-01-preview",
            "role_assignment_approval_steps": "2021-01-01-preview",
            "role_assignment_schedule_requests": "2020-10-01",
        }
    },
    "portal-authorization",
)

# The SDK retries a little (connection errors, 5xx, short throttling); longer waits belong to the
# Celery task that called us, which gets `Throttled(retry_after)` or `Transient` instead.
RETRY_TOTAL = 2
RETRY_BACKOFF_FACTOR = 0.5
MAX_INLINE_RETRY_AFTER = 5.0


class _RetryPolicy(RetryPolicy[HttpRequest, Any]):
    """azure-core's retries, except that a long Retry-After is handed back to the caller.

    azure-core sleeps for whatever Retry-After says, on any status >= 400; a worker should not
    block for minutes, so past MAX_INLINE_RETRY_AFTER the response is returned and becomes
    `Throttled`.
    """

    def is_retry(
        self, retry_settings: dict[str, Any], response: PipelineResponse[Any, Any]
    ) -> bool:
        wait = self.get_retry_after(response)
        if wait is not None and wait > MAX_INLINE_RETRY_AFTER:
            return False
        return super().is_retry(retry_settings, response)


def _retry_policy() -> _RetryPolicy:
    return _RetryPolicy(retry_total=RETRY_TOTAL, retry_backoff_factor=RETRY_BACKOFF_FACTOR)


def client_options() -> dict[str, Any]:
    options: dict[str, Any] = {
        "base_url": settings.ARM_URL,
        "credential_scopes": ARM_CREDENTIAL_SCOPES,
        "polling_interval": settings.ARM_POLLING_INTERVAL,
        "retry_policy": _retry_policy(),
        # After the retry policy: it sees every attempt, retried 429s included.
        "per_retry_policies": [ObservePolicy()],
        "transport": shared_transport(settings.AZURE_CA_BUNDLE),
    }
    if settings.AZURE_CA_BUNDLE:
        options["connection_verify"] = settings.AZURE_CA_BUNDLE
    return options


def raw_pipeline(credential: TokenCredential) -> ARMPipelineClient[Any, Any]:
    """An ARM pipeline with the policies the generated clients use (request ids, user agent,
    proxies, redirects, our retries, ARM's bearer challenge handling, tracing, logging), for
    requests built by hand. Much cheaper to make than a generated client, which also builds
    serializers and operation groups the raw listings never use."""
    return ARMPipelineClient(
        base_url=settings.ARM_URL,
        transport=shared_transport(settings.AZURE_CA_BUNDLE),
        policies=[
            policies.RequestIdPolicy(),
            policies.HeadersPolicy(),
            policies.UserAgentPolicy(sdk_moniker="managed-apps-portal"),
            policies.ProxyPolicy(),
            policies.ContentDecodePolicy(),
            policies.RedirectPolicy(),
            _retry_policy(),
            ObservePolicy(),
            ARMChallengeAuthenticationPolicy(credential, *ARM_CREDENTIAL_SCOPES),
            policies.DistributedTracingPolicy(),
            policies.SensitiveHeaderCleanupPolicy(),
            ARMHttpLoggingPolicy(),
        ],
    )
