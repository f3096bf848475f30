"""Validation of Entra ID tokens: signature against the issuer's JWKS, issuer, audience, expiry
and nonce. See https://learn.microsoft.com/entra/identity-platform/id-tokens.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from django.conf import settings

JWKS_CACHE_SECONDS = 3600
_jwks_lock = threading.Lock()
_jwks_cache: dict[str, tuple[float, jwt.PyJWKSet]] = {}


class InvalidIdToken(Exception):
    """The ID token cannot be trusted; the message says why (and never contains the token)."""


@dataclass(frozen=True)
class Identity:
    tenant_id: uuid.UUID
    object_id: uuid.UUID
    name: str
    username: str
    email: str
    roles: tuple[str, ...]


def requests_verify() -> str | bool:
    """What requests should verify TLS against: the configured CA bundle, or the system store."""
    return settings.AZURE_CA_BUNDLE or True


def jwks_url() -> str:
    return f"{settings.ENTRA_LOGIN_URL}/organizations/discovery/v2.0/keys"


def _signing_keys(*, refresh: bool = False) -> jwt.PyJWKSet:
    url = jwks_url()
    with _jwks_lock:
        cached = _jwks_cache.get(url)
        if cached and not refresh and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
            return cached[1]
    response = requests.get(url, timeout=10, verify=requests_verify())
    response.raise_for_status()
    keys = jwt.PyJWKSet.from_dict(response.json())
    with _jwks_lock:
        _jwks_cache[url] = (time.monotonic(), keys)
    return keys


def _key_for(kid: str) -> Any:
    for refresh in (False, True):
        try:
            return _signing_keys(refresh=refresh)[kid].key
        except KeyError:
            continue
        except (requests.RequestException, jwt.PyJWKSetError) as exc:
            raise InvalidIdToken(f"could not read the issuer's signing keys ({exc})") from None
    raise InvalidIdToken("the token is signed with a key the issuer does not publish")


def validate_id_token(raw: str, *, nonce: str | None) -> Identity:
    """Check an ID token from the token endpoint and return who it names."""
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        raise InvalidIdToken("the ID token is malformed") from None
    if header.get("alg") != "RS256" or not header.get("kid"):
        raise InvalidIdToken("the ID token is not signed with RS256 and a key id")
    try:
        claims = jwt.decode(
            raw,
            _key_for(header["kid"]),
            algorithms=["RS256"],
            audience=settings.ENTRA_CLIENT_ID,
            options={"require": ["exp", "iat", "iss", "aud", "tid", "oid"]},
            leeway=60,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidIdToken("the ID token has expired") from None
    except jwt.InvalidAudienceError:
        raise InvalidIdToken("the ID token was issued for another application") from None
    except jwt.InvalidSignatureError:
        raise InvalidIdToken("the ID token's signature does not verify") from None
    except jwt.PyJWTError as exc:
        raise InvalidIdToken(f"the ID token is invalid ({exc})") from None

    tenant_id = claims["tid"]
    # Multi-tenant apps must check the issuer against the token's own tenant.
    if claims["iss"] != f"{settings.ENTRA_LOGIN_URL}/{tenant_id}/v2.0":
        raise InvalidIdToken("the ID token's issuer does not match its tenant")
    if nonce is None or claims.get("nonce") != nonce:
        raise InvalidIdToken("the ID token's nonce does not match this sign-in")
    try:
        return Identity(
            tenant_id=uuid.UUID(tenant_id),
            object_id=uuid.UUID(claims["oid"]),
            name=str(claims.get("name", "")),
            username=str(claims.get("preferred_username", "")),
            email=str(claims.get("email") or claims.get("preferred_username") or ""),
            roles=tuple(str(role) for role in claims.get("roles", [])),
        )
    except ValueError:
        raise InvalidIdToken("the ID token's tenant or object id is not a GUID") from None
