from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.mgmt.managedapplications import ManagedApplicationsMgmtClient

from emulator.server import EmulatorServer
from emulator.throttling import Throttle
from tests.emulator import ids
from tests.emulator.helpers import solutions, user_credential


def client(emulator: EmulatorServer, **kwargs: Any) -> ManagedApplicationsMgmtClient:
    return solutions(emulator, user_credential(emulator, ids.ALICE), ids.FABRIKAM_SUB, **kwargs)


def calls_to(emulator: EmulatorServer, fragment: str) -> list[dict[str, Any]]:
    return [r for r in emulator.state.requests_log if fragment in r["path"]]


def test_sdk_retries_an_injected_429_after_retry_after(emulator: EmulatorServer) -> None:
    emulator.inject_fault(kind="throttle", count=1, path="applications/fabrikam-sql", retry_after=0)
    app = client(emulator).applications.get("rg-sql", "fabrikam-sql")
    assert app is not None
    assert app.name == "fabrikam-sql"
    assert [r["status"] for r in calls_to(emulator, "applications/fabrikam-sql")] == [429, 200]


def test_sdk_retries_an_injected_500(emulator: EmulatorServer) -> None:
    emulator.inject_fault(kind="status", status=500, count=2, path="applications/fabrikam-sql")
    app = client(emulator, retry_backoff_factor=0).applications.get("rg-sql", "fabrikam-sql")
    assert app is not None
    assert [r["status"] for r in calls_to(emulator, "applications/fabrikam-sql")] == [500, 500, 200]


def test_persistent_500_surfaces_as_http_response_error(emulator: EmulatorServer) -> None:
    emulator.inject_fault(
        kind="status", status=503, rate=1.0, path="applications/fabrikam-sql", retry_after=0
    )
    with pytest.raises(HttpResponseError) as error:
        client(emulator, retry_total=1).applications.get("rg-sql", "fabrikam-sql")
    assert error.value.status_code == 503


def test_expired_token_fault_is_a_401(emulator: EmulatorServer) -> None:
    emulator.inject_fault(kind="expired_token", count=1)
    with pytest.raises(HttpResponseError) as error:
        client(emulator).applications.get("rg-sql", "fabrikam-sql")
    assert error.value.status_code == 401
    assert error.value.error is not None
    assert error.value.error.code == "ExpiredAuthenticationToken"


def test_dropped_connection_is_a_transport_error(emulator: EmulatorServer) -> None:
    emulator.inject_fault(kind="drop", count=5, path="applications/fabrikam-sql")
    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        client(emulator, retry_total=0).applications.get("rg-sql", "fabrikam-sql")


def test_token_bucket_answers_429_with_retry_after() -> None:
    throttle = Throttle(enabled=True, limits={"reads": (3, 0.5), "writes": (1, 0.1)})
    verdicts = [throttle.take("sub", "alice", "reads") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts[:3]] == [2, 1, 0]
    assert verdicts[3].retry_after >= 1
    assert throttle.take("sub", "bob", "reads").allowed  # per principal
    assert throttle.take("sub", "alice", "writes").allowed  # per kind
    assert (
        Throttle(enabled=False, limits={"reads": (1, 0.001), "writes": (1, 0.001)})
        .take("s", "p", "reads")
        .allowed
    )


def test_throttled_arm_call_has_the_arm_headers(emulator: EmulatorServer) -> None:
    emulator.throttle = Throttle(enabled=True, limits={"reads": (2, 0.01), "writes": (2, 0.01)})
    url = f"{emulator.https_url}{ids.FAB_SQL}"
    headers = {"Authorization": f"Bearer {emulator.token_for(ids.ALICE)}"}
    answers = [
        requests.get(
            url,
            params={"api-version": "2023-12-01-preview"},
            headers=headers,
            verify=emulator.ca_bundle,
            timeout=5,
        )
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["x-ms-ratelimit-remaining-subscription-reads"] == "1"
    assert answers[2].json()["error"]["code"] == "TooManyRequests"
    assert int(answers[2].headers["Retry-After"]) >= 1
    emulator.throttle = Throttle(enabled=False)


def test_claims_challenge_makes_the_sdk_fetch_a_new_token_and_retry(
    emulator: EmulatorServer,
) -> None:
    from tests.emulator.helpers import app_credential

    credential = app_credential(emulator, ids.FABRIKAM, ids.PORTAL_CLIENT_ID, ids.PORTAL_SECRET)
    sdk = solutions(emulator, credential, ids.FABRIKAM_SUB)
    assert sdk.applications.get("rg-sql", "fabrikam-sql") is not None
    emulator.inject_fault(kind="claims_challenge", count=1, path="applications/fabrikam-sql")
    assert sdk.applications.get("rg-sql", "fabrikam-sql") is not None
    token_calls = [
        r for r in emulator.state.requests_log if r["path"].endswith("/oauth2/v2.0/token")
    ]
    assert len(token_calls) == 2
    assert "claims=" in token_calls[1]["body"]
