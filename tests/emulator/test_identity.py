import base64
import hashlib
import re
import time
import urllib.parse
from typing import Any

import jwt
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import OnBehalfOfCredential

from emulator.arm.dispatch import ARM_AUDIENCES
from emulator.entra import tokens as identity_module
from emulator.server import EmulatorServer
from tests.emulator import ids
from tests.emulator.helpers import app_credential

REDIRECT = "http://127.0.0.1:8000/accounts/microsoft/login/callback/"


def pkce_pair() -> tuple[str, str]:
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    return verifier, challenge


def sign_in(
    emulator: EmulatorServer,
    tenant: str,
    oid: str,
    scope: str,
    challenge: str | None = None,
    redirect: str = REDIRECT,
) -> str:
    """Open the sign-in page over plain HTTP, pick a person, return the authorization code."""
    params = {
        "client_id": ids.PORTAL_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": redirect,
        "scope": scope,
        "state": "xyz",
        "nonce": "n-0S6",
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    url = f"{emulator.http_url}/{tenant}/oauth2/v2.0/authorize"
    page = requests.get(url, params=params, timeout=5)
    assert page.status_code == 200
    assert oid in page.text
    answer = requests.post(
        url, data={**params, "emulator_user": oid}, allow_redirects=False, timeout=5
    )
    assert answer.status_code == 302
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def redeem(emulator: EmulatorServer, tenant: str, **form: str) -> requests.Response:
    data = {"client_id": ids.PORTAL_CLIENT_ID, "client_secret": ids.PORTAL_SECRET, **form}
    return requests.post(
        f"{emulator.https_url}/{tenant}/oauth2/v2.0/token",
        data=data,
        verify=emulator.ca_bundle,
        timeout=5,
    )


def test_openid_configuration_for_tenant_and_organizations(emulator: EmulatorServer) -> None:
    own = requests.get(
        f"{emulator.https_url}/{ids.FABRIKAM}/v2.0/.well-known/openid-configuration",
        verify=emulator.ca_bundle,
        timeout=5,
    ).json()
    assert own["issuer"] == f"{emulator.https_url}/{ids.FABRIKAM}/v2.0"
    assert own["token_endpoint"].startswith(emulator.https_url)
    assert own["authorization_endpoint"].startswith(emulator.http_url)
    multi = requests.get(
        f"{emulator.https_url}/organizations/v2.0/.well-known/openid-configuration",
        verify=emulator.ca_bundle,
        timeout=5,
    ).json()
    assert multi["issuer"] == f"{emulator.https_url}/{{tenantid}}/v2.0"


def test_client_credentials_token_verifies_against_jwks(emulator: EmulatorServer) -> None:
    credential = app_credential(
        emulator, ids.CONTOSO, ids.PUBLISHER_CLIENT_ID, ids.PUBLISHER_SECRET
    )
    token = credential.get_token("https://management.azure.com/.default").token
    keys = requests.get(
        f"{emulator.https_url}/{ids.CONTOSO}/discovery/v2.0/keys",
        verify=emulator.ca_bundle,
        timeout=5,
    ).json()
    key = jwt.PyJWK(keys["keys"][0]).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="https://management.azure.com")
    assert claims["tid"] == ids.CONTOSO
    assert claims["oid"] == ids.PUBLISHER_SP
    assert claims["iss"] == f"{emulator.https_url}/{ids.CONTOSO}/v2.0"
    assert claims["idtyp"] == "app"


def test_bad_client_secret_is_aadsts7000215(emulator: EmulatorServer) -> None:
    credential = app_credential(emulator, ids.CONTOSO, ids.PUBLISHER_CLIENT_ID, "wrong")
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential.get_token("https://management.azure.com/.default")
    raw = redeem(
        emulator,
        ids.CONTOSO,
        grant_type="client_credentials",
        scope="https://management.azure.com/.default",
        client_secret="wrong",
    )
    assert raw.status_code == 401
    assert raw.json()["error"] == "invalid_client"
    assert raw.json()["error_codes"] == [7000215]


def test_client_credentials_needs_a_service_principal_in_the_tenant(
    emulator: EmulatorServer,
) -> None:
    answer = redeem(
        emulator,
        ids.TAILSPIN,
        grant_type="client_credentials",
        scope="https://management.azure.com/.default",
    )
    assert answer.status_code == 400
    assert answer.json()["error_codes"] == [700016]


def test_sign_in_page_lists_only_the_tenants_people(emulator: EmulatorServer) -> None:
    url = f"{emulator.http_url}/{ids.FABRIKAM}/oauth2/v2.0/authorize"
    page = requests.get(
        url,
        params={
            "client_id": ids.PORTAL_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
        },
        timeout=5,
    )
    assert ids.ALICE in page.text and ids.BOB in page.text
    assert ids.CHARLIE not in page.text and ids.PAT not in page.text
    everyone = requests.get(
        f"{emulator.http_url}/organizations/oauth2/v2.0/authorize",
        params={
            "client_id": ids.PORTAL_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
        },
        timeout=5,
    )
    assert ids.CHARLIE in everyone.text and ids.PAT in everyone.text


def test_plain_http_port_serves_only_the_sign_in_page(emulator: EmulatorServer) -> None:
    answer = requests.post(
        f"{emulator.http_url}/{ids.FABRIKAM}/oauth2/v2.0/token", data={}, timeout=5
    )
    assert answer.status_code == 404


def test_wrong_redirect_uri_is_aadsts50011(emulator: EmulatorServer) -> None:
    page = requests.get(
        f"{emulator.http_url}/organizations/oauth2/v2.0/authorize",
        params={
            "client_id": ids.PORTAL_CLIENT_ID,
            "redirect_uri": "https://evil.example/cb",
            "response_type": "code",
            "scope": "openid",
        },
        timeout=5,
    )
    assert page.status_code == 400
    assert "AADSTS50011" in page.text


def test_authorization_code_with_pkce_then_refresh_for_arm(emulator: EmulatorServer) -> None:
    verifier, challenge = pkce_pair()
    code = sign_in(
        emulator, "organizations", ids.ALICE, "openid profile offline_access User.Read", challenge
    )
    answer = redeem(
        emulator,
        "organizations",
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    id_claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert id_claims["aud"] == ids.PORTAL_CLIENT_ID
    assert (id_claims["tid"], id_claims["oid"]) == (ids.FABRIKAM, ids.ALICE)
    assert id_claims["roles"] == ["Customer.Admin"]
    assert id_claims["nonce"] == "n-0S6"
    assert id_claims["ver"] == "2.0"
    assert (
        jwt.decode(body["access_token"], options={"verify_signature": False})["aud"]
        == "https://graph.microsoft.com"
    )

    me = requests.get(
        f"{emulator.https_url}/v1.0/me",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert me.json()["id"] == ids.ALICE
    assert me.json()["userPrincipalName"] == "alice@fabrikam.onmicrosoft.com"

    arm = redeem(
        emulator,
        "organizations",
        grant_type="refresh_token",
        refresh_token=body["refresh_token"],
        scope="https://management.azure.com/user_impersonation offline_access",
    )
    assert arm.status_code == 200, arm.text
    arm_claims = jwt.decode(arm.json()["access_token"], options={"verify_signature": False})
    assert arm_claims["aud"] == "https://management.azure.com"
    assert arm_claims["oid"] == ids.ALICE

    again = redeem(
        emulator,
        "organizations",
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert again.json()["error_codes"] == [54005]


def test_pkce_mismatch_and_unknown_code_are_invalid_grant(emulator: EmulatorServer) -> None:
    _, challenge = pkce_pair()
    code = sign_in(emulator, ids.FABRIKAM, ids.BOB, "openid", challenge)
    wrong = redeem(
        emulator,
        ids.FABRIKAM,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier="x" * 50,
    )
    assert wrong.json()["error"] == "invalid_grant"
    unknown = redeem(
        emulator, ids.FABRIKAM, grant_type="authorization_code", code="nope", redirect_uri=REDIRECT
    )
    assert unknown.json()["error_codes"] == [70008]


def test_expired_refresh_token_is_aadsts700082(emulator: EmulatorServer) -> None:
    code = sign_in(emulator, "organizations", ids.CAROL, "openid offline_access")
    refresh = redeem(
        emulator, "organizations", grant_type="authorization_code", code=code, redirect_uri=REDIRECT
    ).json()["refresh_token"]
    for record in emulator.state.refresh_tokens.values():
        record["expires_at"] = 0
    answer = redeem(
        emulator,
        "organizations",
        grant_type="refresh_token",
        refresh_token=refresh,
        scope="https://management.azure.com/.default",
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert re.match(r"AADSTS700082:", answer.json()["error_description"])


def test_on_behalf_of_exchanges_a_user_token_for_arm(emulator: EmulatorServer) -> None:
    assertion = emulator.identity.access_token(
        tenant_id=ids.FABRIKAM,
        oid=ids.ALICE,
        audience=ids.PORTAL_CLIENT_ID,
        app_id=ids.PORTAL_CLIENT_ID,
    )
    credential = OnBehalfOfCredential(
        ids.FABRIKAM,
        ids.PORTAL_CLIENT_ID,
        client_secret=ids.PORTAL_SECRET,
        user_assertion=assertion,
        authority=emulator.https_url,
        disable_instance_discovery=True,
        connection_verify=emulator.ca_bundle,
    )
    token = credential.get_token("https://management.azure.com/.default").token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["oid"], claims["aud"]) == (ids.ALICE, "https://management.azure.com")


def test_subscribed_skus_tell_p2_apart(emulator: EmulatorServer) -> None:
    def skus(tenant: str) -> list[str]:
        token = (
            app_credential(emulator, tenant, ids.PORTAL_CLIENT_ID, ids.PORTAL_SECRET)
            .get_token("https://graph.microsoft.com/.default")
            .token
        )
        answer = requests.get(
            f"{emulator.https_url}/v1.0/subscribedSkus",
            headers={"Authorization": f"Bearer {token}"},
            verify=emulator.ca_bundle,
            timeout=5,
        )
        return [s["skuPartNumber"] for s in answer.json()["value"]]

    assert "AAD_PREMIUM_P2" in skus(ids.FABRIKAM)
    assert "AAD_PREMIUM_P2" not in skus(ids.WOODGROVE)


def test_prompt_none_with_login_hint_signs_in_silently(emulator: EmulatorServer) -> None:
    params = {
        "client_id": ids.PORTAL_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "s1",
        "prompt": "none",
        "login_hint": "bob@fabrikam.onmicrosoft.com",
    }
    url = f"{emulator.http_url}/organizations/oauth2/v2.0/authorize"
    answer = requests.get(url, params=params, allow_redirects=False, timeout=5)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.headers["Location"]).query)
    assert "code" in query
    nobody = requests.get(
        url, params={**params, "login_hint": "ghost@nowhere"}, allow_redirects=False, timeout=5
    )
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(nobody.headers["Location"]).query)[
        "error"
    ] == ["login_required"]


def test_admin_consent_creates_the_service_principal(emulator: EmulatorServer) -> None:
    url = f"{emulator.http_url}/organizations/v2.0/adminconsent"
    params = {
        "client_id": ids.PORTAL_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "https://management.azure.com/.default",
        "state": "c1",
    }
    assert (
        redeem(
            emulator,
            ids.TAILSPIN,
            grant_type="client_credentials",
            scope="https://management.azure.com/.default",
        ).status_code
        == 400
    )
    answer = requests.post(
        url, data={**params, "emulator_user": ids.TOM}, allow_redirects=False, timeout=5
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.headers["Location"]).query)
    assert query["admin_consent"] == ["True"]
    assert query["tenant"] == [ids.TAILSPIN]
    assert (
        redeem(
            emulator,
            ids.TAILSPIN,
            grant_type="client_credentials",
            scope="https://management.azure.com/.default",
        ).status_code
        == 200
    )


def test_a_verified_token_is_not_decoded_again_until_it_expires(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    decode = jwt.decode

    def counting_decode(token: str, *a: Any, **kw: Any) -> Any:
        decoded.append(token)
        return decode(token, *a, **kw)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token = emulator.token_for(ids.ALICE, lifetime=2)
    claims = emulator.identity.verify(token, ARM_AUDIENCES)
    claims["oid"] = "changed by the caller"
    assert emulator.identity.verify(token, ARM_AUDIENCES)["oid"] == ids.ALICE
    assert len(decoded) == 1
    with pytest.raises(jwt.InvalidAudienceError):  # other audiences are checked on their own
        emulator.identity.verify(token, [identity_module.GRAPH_RESOURCE])
    time.sleep(max(0.0, claims["exp"] - time.time()))
    with pytest.raises(jwt.ExpiredSignatureError):
        emulator.identity.verify(token, ARM_AUDIENCES)
    assert len(decoded) == 3


def test_a_verified_token_is_still_rejected_after_revocation(emulator: EmulatorServer) -> None:
    token = emulator.token_for(ids.ALICE)
    emulator.identity.verify(token, ARM_AUDIENCES)
    emulator.state.tokens_not_before = time.time() + 1
    with pytest.raises(jwt.ExpiredSignatureError):
        emulator.identity.verify(token, ARM_AUDIENCES)


def test_remembered_tokens_are_bounded(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identity_module, "VERIFIED_TOKENS_KEPT", 4)
    monkeypatch.setattr(emulator.identity, "_verified", {})
    tokens = [emulator.token_for(ids.ALICE) for _ in range(5)]
    for token in tokens:
        emulator.identity.verify(token, ARM_AUDIENCES)
    assert [key[0] for key in emulator.identity._verified] == tokens[2:]
