"""ID token validation against the emulator's real JWKS over HTTPS."""

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_django import Settings

from accounts.identity import InvalidIdToken, validate_id_token
from emulator.records import Person
from emulator.server import EmulatorServer
from tests.conftest import ALICE, FABRIKAM


@pytest.fixture
def person(azure: EmulatorServer) -> Person:
    return azure.state.people[str(ALICE)]


def _claims(azure: EmulatorServer, settings: Settings, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "aud": settings.ENTRA_CLIENT_ID,
        "iss": f"{azure.https_url}/{FABRIKAM}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "tid": str(FABRIKAM),
        "oid": str(ALICE),
        "name": "Alice Archer",
        "preferred_username": "alice@fabrikam.onmicrosoft.com",
        "roles": ["Customer.Admin"],
        "nonce": "n-123",
    }
    claims.update(overrides)
    return claims


def test_a_token_from_the_emulator_validates(
    azure: EmulatorServer, settings: Settings, person: Person
) -> None:
    token = azure.identity.id_token(person, settings.ENTRA_CLIENT_ID, "n-123")
    identity = validate_id_token(token, nonce="n-123")
    assert (identity.tenant_id, identity.object_id) == (FABRIKAM, ALICE)
    assert identity.roles == ("Customer.Admin",)


def test_wrong_nonce_is_refused(azure: EmulatorServer, settings: Settings, person: Person) -> None:
    token = azure.identity.id_token(person, settings.ENTRA_CLIENT_ID, "n-123")
    with pytest.raises(InvalidIdToken, match="nonce"):
        validate_id_token(token, nonce="other")
    with pytest.raises(InvalidIdToken, match="nonce"):
        validate_id_token(token, nonce=None)


def test_expired_token_is_refused(azure: EmulatorServer, settings: Settings) -> None:
    past = int(time.time()) - 3600
    token = azure.identity.sign(_claims(azure, settings, iat=past - 600, nbf=past - 600, exp=past))
    with pytest.raises(InvalidIdToken, match="expired"):
        validate_id_token(token, nonce="n-123")


def test_token_for_another_application_is_refused(
    azure: EmulatorServer, settings: Settings
) -> None:
    token = azure.identity.sign(
        _claims(azure, settings, aud="00000000-1111-2222-3333-444444444444")
    )
    with pytest.raises(InvalidIdToken, match="another application"):
        validate_id_token(token, nonce="n-123")


def test_issuer_of_another_tenant_is_refused(azure: EmulatorServer, settings: Settings) -> None:
    token = azure.identity.sign(
        _claims(azure, settings, iss=f"{azure.https_url}/c721af65-e2e9-4315-add6-935f3d17c8d6/v2.0")
    )
    with pytest.raises(InvalidIdToken, match="issuer"):
        validate_id_token(token, nonce="n-123")


def test_forged_signature_is_refused(
    azure: EmulatorServer, settings: Settings, person: Person
) -> None:
    genuine = azure.identity.id_token(person, settings.ENTRA_CLIENT_ID, "n-123")
    kid = jwt.get_unverified_header(genuine)["kid"]
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(azure, settings), forger, algorithm="RS256", headers={"kid": kid})
    with pytest.raises(InvalidIdToken, match="signature"):
        validate_id_token(forged, nonce="n-123")


def test_unsigned_or_hmac_tokens_are_refused(azure: EmulatorServer, settings: Settings) -> None:
    hmac = jwt.encode(_claims(azure, settings), "s" * 32, algorithm="HS256", headers={"kid": "x"})
    with pytest.raises(InvalidIdToken, match="RS256"):
        validate_id_token(hmac, nonce="n-123")
    with pytest.raises(InvalidIdToken, match="malformed"):
        validate_id_token("not-a-jwt", nonce="n-123")


def test_unknown_key_id_is_refused(azure: EmulatorServer, settings: Settings) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        _claims(azure, settings), forger, algorithm="RS256", headers={"kid": "unknown"}
    )
    with pytest.raises(InvalidIdToken, match="does not publish"):
        validate_id_token(token, nonce="n-123")
