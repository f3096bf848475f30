"""Failures provoked in the emulator (faults, revoked tokens, RBAC) and what the gateway raises."""

from typing import Any

import pytest
from pytest_django import Settings

from azure_gateway import (
    AuthenticationFailed,
    AzureError,
    Forbidden,
    NotFound,
    Throttled,
    Transient,
    gateway_for_token,
    tenant_gateway,
)
from azure_gateway.gateway import SdkAzureGateway
from azure_gateway.pipeline import MAX_INLINE_RETRY_AFTER, RETRY_TOTAL
from emulator.server import EmulatorServer
from tests.azure.conftest import ALICE, FABRIKAM, FABRIKAM_SUB, MONITORING, token_provider

CHARLIE = "9c6395d3-4420-4edc-8a5f-facb2cebda2d"
APPS_PATH = f"/subscriptions/{FABRIKAM_SUB}/providers/Microsoft.Solutions/applications"


def calls_to(emulator: EmulatorServer, path: str) -> list[dict[str, Any]]:
    return [r for r in emulator.state.requests_log if r["path"].lower() == path.lower()]


def test_throttling_that_outlasts_the_sdk_retries_is_throttled(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="throttle", count=RETRY_TOTAL + 1, retry_after=1, path=APPS_PATH)

    with pytest.raises(Throttled) as caught:
        list(fabrikam_app.list_managed_apps(FABRIKAM_SUB))

    assert caught.value.retry_after == 1.0
    assert caught.value.code == "TooManyRequests"
    assert caught.value.status == 429
    assert caught.value.request_id == ""  # the emulator's faults carry no request id
    assert len(calls_to(emulator, APPS_PATH)) == RETRY_TOTAL + 1


def test_short_throttling_is_retried_by_the_sdk(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="throttle", count=1, retry_after=1, path=APPS_PATH)

    apps = list(fabrikam_app.list_managed_apps(FABRIKAM_SUB))

    assert len(apps) == 5
    assert len(calls_to(emulator, APPS_PATH)) == 2


def test_a_long_retry_after_is_handed_to_the_caller_at_once(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    wait = int(MAX_INLINE_RETRY_AFTER) + 25
    emulator.inject_fault(kind="throttle", count=1, retry_after=wait, path=APPS_PATH)

    with pytest.raises(Throttled) as caught:
        list(fabrikam_app.list_managed_apps(FABRIKAM_SUB))

    assert caught.value.retry_after == wait
    assert len(calls_to(emulator, APPS_PATH)) == 1  # no sleeping inside the SDK


def test_throttled_is_a_transient_error(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="throttle", count=1, retry_after=60, path=APPS_PATH)

    with pytest.raises(Transient):
        list(fabrikam_app.list_managed_apps(FABRIKAM_SUB))


def test_server_errors_that_persist_are_transient(
    emulator: EmulatorServer, as_alice: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="status", status=500, count=RETRY_TOTAL + 1, path=MONITORING)

    with pytest.raises(Transient) as caught:
        as_alice.get_managed_app(MONITORING)

    assert not isinstance(caught.value, Throttled)
    assert caught.value.status == 500
    assert caught.value.code == "InternalServerError"
    assert "internal server error" in caught.value.message.lower()
    assert len(calls_to(emulator, MONITORING)) == RETRY_TOTAL + 1


def test_a_single_server_error_is_retried(
    emulator: EmulatorServer, as_alice: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="status", status=500, count=1, path=MONITORING)

    assert as_alice.get_managed_app(MONITORING).id == MONITORING
    assert len(calls_to(emulator, MONITORING)) == 2


def test_service_unavailable_is_transient(
    emulator: EmulatorServer, as_alice: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="status", status=503, count=RETRY_TOTAL + 1, path=MONITORING)

    with pytest.raises(Transient) as caught:
        as_alice.get_managed_app(MONITORING)

    assert caught.value.status == 503


def test_dropped_connections_are_transient(
    emulator: EmulatorServer, as_alice: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="drop", count=RETRY_TOTAL + 1, path=MONITORING)

    with pytest.raises(Transient) as caught:
        as_alice.get_managed_app(MONITORING)

    assert caught.value.status is None
    assert caught.value.code


def test_errors_while_paging_are_translated(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    emulator.state.page_size = 2
    emulator.inject_fault(kind="status", status=500, count=RETRY_TOTAL + 1, path=APPS_PATH)
    pages = fabrikam_app.list_managed_apps(FABRIKAM_SUB)

    with pytest.raises(Transient):
        next(pages)


def test_an_expired_token_fails_authentication(
    emulator: EmulatorServer, as_alice: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="expired_token", count=1, path=MONITORING)

    with pytest.raises(AuthenticationFailed) as caught:
        as_alice.get_managed_app(MONITORING)

    assert caught.value.code == "ExpiredAuthenticationToken"
    assert caught.value.status == 401


def test_a_delegated_token_past_its_expiry_fails_authentication(emulator: EmulatorServer) -> None:
    gateway = gateway_for_token(token_provider(emulator, ALICE, lifetime=-60))

    with pytest.raises(AuthenticationFailed) as caught:
        gateway.get_managed_app(MONITORING)

    assert caught.value.code == "ExpiredAuthenticationToken"


def test_revoked_tokens_fail_authentication(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    assert list(fabrikam_app.list_subscriptions())  # a token is now cached by the client
    emulator.state.tokens_not_before = 2**40  # the control API's /tokens/revoke, without waiting

    with pytest.raises(AuthenticationFailed) as caught:
        list(fabrikam_app.list_managed_apps(FABRIKAM_SUB))

    assert caught.value.code == "ExpiredAuthenticationToken"


def test_a_wrong_client_secret_fails_authentication(
    emulator: EmulatorServer, settings: Settings
) -> None:
    settings.ENTRA_CLIENT_SECRET = "not-the-secret"

    with pytest.raises(AuthenticationFailed) as caught:
        list(tenant_gateway(FABRIKAM).list_managed_apps(FABRIKAM_SUB))

    assert "AADSTS7000215" in caught.value.message
    assert "not-the-secret" not in str(caught.value)


def test_an_unknown_tenant_fails_authentication(emulator: EmulatorServer) -> None:
    with pytest.raises(AuthenticationFailed):
        list(tenant_gateway("11111111-2222-3333-4444-555555555555").list_subscriptions())


def test_another_customer_is_forbidden(emulator: EmulatorServer) -> None:
    charlie = gateway_for_token(token_provider(emulator, CHARLIE))

    with pytest.raises(Forbidden) as caught:
        charlie.get_managed_app(MONITORING)

    assert caught.value.code == "AuthorizationFailed"
    assert CHARLIE in caught.value.message


def test_a_missing_subscription_is_not_found(as_alice: SdkAzureGateway) -> None:
    with pytest.raises(NotFound) as caught:
        list(as_alice.list_managed_apps("99999999-9999-9999-9999-999999999999"))

    assert caught.value.code == "SubscriptionNotFound"


def test_errors_carry_no_token_and_no_sdk_exception(emulator: EmulatorServer) -> None:
    token, _ = token_provider(emulator, CHARLIE)()
    charlie = gateway_for_token(lambda: (token, 2**31))

    with pytest.raises(AzureError) as caught:
        charlie.get_managed_app(MONITORING)

    error = caught.value
    assert token not in str(error)
    assert all(token not in str(value) for value in vars(error).values())
    assert error.__cause__ is None
    assert error.__suppress_context__ is True
    assert error.request_id  # ARM's x-ms-request-id, for support
