"""How the gateways authenticate: settings decide where, the token provider decides who."""

from typing import Any

import pytest
from pytest_django import Settings

from azure_gateway import (
    AuthenticationFailed,
    AzureGateway,
    gateway_for_token,
    publisher_gateway,
    tenant_gateway,
)
from azure_gateway.credentials import DelegatedCredential
from azure_gateway.gateway import _app_credential
from emulator.server import EmulatorServer
from tests.azure.conftest import (
    ALICE,
    CONTOSO_SUB,
    FABRIKAM,
    FABRIKAM_SUB,
    MONITORING,
    token_provider,
)


def test_delegated_credential_hands_out_the_providers_token() -> None:
    credential = DelegatedCredential(lambda: ("a-token", 1_900_000_000))

    token = credential.get_token("https://management.azure.com/.default")
    info = credential.get_token_info("https://management.azure.com/.default")

    assert (token.token, token.expires_on) == ("a-token", 1_900_000_000)
    assert (info.token, info.expires_on, info.token_type) == ("a-token", 1_900_000_000, "Bearer")


def test_a_fresh_token_is_asked_for_once(emulator: EmulatorServer) -> None:
    provide = token_provider(emulator, ALICE, lifetime=3600)
    gateway = gateway_for_token(provide)

    gateway.get_managed_app(MONITORING)
    gateway.get_managed_app(MONITORING)

    assert len(provide.calls) == 1


def test_a_token_about_to_expire_is_asked_for_again(emulator: EmulatorServer) -> None:
    provide = token_provider(emulator, ALICE, lifetime=120)  # inside azure-core's refresh window
    gateway = gateway_for_token(provide)

    gateway.get_managed_app(MONITORING)
    gateway.get_managed_app(MONITORING)

    assert len(provide.calls) == 2


def test_delegated_calls_act_as_the_person(emulator: EmulatorServer) -> None:
    gateway = gateway_for_token(token_provider(emulator, ALICE))

    subscriptions = list(gateway.list_subscriptions())

    assert [s.subscription_id for s in subscriptions] == [FABRIKAM_SUB]


def test_publisher_gateway_uses_the_publisher_app(emulator: EmulatorServer) -> None:
    _app_credential.cache_clear()  # an earlier test's token would hide the sign-in
    gateway = publisher_gateway()

    listed = list(gateway.list_subscriptions())

    # The publisher's automation app holds a role in each customer's managed resource group,
    # so it sees those customers' subscriptions; the publisher's own is not shared with it.
    assert {s.display_name for s in listed} == {
        "Fabrikam Production",
        "Northwind Main",
        "Woodgrove Operations",
    }
    assert CONTOSO_SUB not in {s.subscription_id for s in listed}
    token_requests = [
        r
        for r in emulator.state.requests_log
        if r["path"].endswith("/oauth2/v2.0/token") and "client_credentials" in (r["body"] or "")
    ]
    assert token_requests
    assert "b12f8d01-79b3-4b4e-853c-e2bbcd9ccb44" in token_requests[-1]["body"]
    assert token_requests[-1]["path"].startswith("/0ec098e5-b929-47d3-a4de-b2f969d0ba5b/")


def test_every_gateway_offers_what_the_apps_may_ask_for(emulator: EmulatorServer) -> None:
    for gateway in (
        tenant_gateway(FABRIKAM),
        publisher_gateway(),
        gateway_for_token(token_provider(emulator, ALICE)),
    ):
        assert isinstance(gateway, AzureGateway)


def test_a_closed_gateway_can_be_used_again(emulator: EmulatorServer) -> None:
    with tenant_gateway(FABRIKAM) as gateway:
        assert len(list(gateway.list_managed_apps(FABRIKAM_SUB))) == 5

    assert len(list(gateway.list_managed_apps(FABRIKAM_SUB))) == 5


def test_a_provider_that_cannot_give_a_token_stops_the_call(emulator: EmulatorServer) -> None:
    def refresh_token_revoked() -> tuple[str, int]:
        raise AuthenticationFailed("The refresh token was revoked.", code="invalid_grant")

    with pytest.raises(AuthenticationFailed) as caught:
        gateway_for_token(refresh_token_revoked).get_managed_app(MONITORING)

    assert caught.value.code == "invalid_grant"
    assert not [r for r in emulator.state.requests_log if r["path"] == MONITORING]


def test_later_syncs_of_a_tenant_reuse_its_app_token(
    emulator: EmulatorServer, settings: Settings
) -> None:
    def token_requests() -> list[dict[str, Any]]:
        return [
            r
            for r in emulator.state.requests_log
            if r["path"].lower() == f"/{FABRIKAM}/oauth2/v2.0/token"
        ]

    before = len(token_requests())
    for _ in range(3):
        with tenant_gateway(FABRIKAM) as gateway:
            assert [s.subscription_id for s in gateway.list_subscriptions()] == [FABRIKAM_SUB]
    assert len(token_requests()) - before <= 1
    # Another secret is another credential: it asks Entra itself (and is refused here).
    settings.ENTRA_CLIENT_SECRET = "wrong-secret"
    with tenant_gateway(FABRIKAM) as gateway, pytest.raises(AuthenticationFailed):
        list(gateway.list_subscriptions())
