"""Entra's tokens: the RS256 signing key and its JWKS, issuing access and ID tokens, and verifying
the access tokens callers present (remembering the ones that checked out)."""

import base64
import hashlib
import secrets
import threading
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.ids import stable_id
from emulator.records import Person
from emulator.state import State

ARM_RESOURCE = "https://management.azure.com"
GRAPH_RESOURCE = "https://graph.microsoft.com"
ARM_ALIASES = {ARM_RESOURCE, "https://management.core.windows.net"}
VERIFIED_TOKENS_KEPT = 4096  # verified access tokens remembered (each client resends its own)


def _times_hold(claims: dict[str, Any], now: float) -> bool:
    """The checks jwt.decode makes on a token's times (no leeway): issued, valid and unexpired."""
    issued_at: float = claims["iat"]
    not_before: float = claims.get("nbf", issued_at)
    expires_at: float = claims["exp"]
    return issued_at <= now and not_before <= now < expires_at


class TokenIssuer:
    """Issues and verifies the RS256 tokens of every tenant; knows the emulator's base URLs."""

    def __init__(self, state: State, key: rsa.RSAPrivateKey, token_lifetime: int = 3600) -> None:
        self.state = state
        self.key = key
        self.token_lifetime = token_lifetime
        public = key.public_key().public_numbers()
        self.kid = hashlib.sha256(str(public.n).encode()).hexdigest()[:32]
        self.https_base = ""
        self.http_base = ""
        # (token, audiences) -> claims of tokens whose signature and claims checked out
        self._verified: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
        self._verified_lock = threading.Lock()

    def issuer(self, tenant_id: str) -> str:
        return f"{self.https_base}/{tenant_id}/v2.0"

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims, self.key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"}
        )

    def access_token(
        self,
        *,
        tenant_id: str,
        oid: str,
        audience: str,
        app_id: str,
        scopes: list[str] | None = None,
        lifetime: int | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": self.issuer(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + (lifetime if lifetime is not None else self.token_lifetime),
            "tid": tenant_id,
            "oid": oid,
            "sub": oid,
            "appid": app_id,
            "azp": app_id,
            "ver": "2.0",
            "uti": secrets.token_urlsafe(16),
        }
        person = self.state.people.get(oid)
        if person:
            claims.update(
                idtyp="user",
                name=person.name,
                preferred_username=person.upn,
                upn=person.upn,
                scp=" ".join(s.rpartition("/")[2] for s in (scopes or [])) or "user_impersonation",
            )
        else:
            claims.update(idtyp="app", roles=[])
        return self.sign(claims)

    def id_token(self, person: Person, client_id: str, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": client_id,
            "iss": self.issuer(person.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "tid": person.tenant_id,
            "oid": person.oid,
            "sub": stable_id("pairwise", client_id, person.oid).replace("-", ""),
            "name": person.name,
            "preferred_username": person.upn,
            "email": person.upn,
            "ver": "2.0",
        }
        if person.roles:  # Entra leaves the claim out when no app role is assigned
            claims["roles"] = list(person.roles)
        if nonce:
            claims["nonce"] = nonce
        return self.sign(claims)

    def verify(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """Decode a token this emulator issued; raises jwt.InvalidTokenError otherwise.

        A client sends the same token with every call until it expires, and checking the RSA
        signature is most of an ARM call's work, so a token that passed is remembered by its exact
        text and the audiences asked for. While its times still hold it is not decoded again;
        once they do not, it is, and fails as it would have. Revocation is checked every time.
        """
        key = (token, tuple(audiences))
        claims = self._verified.get(key)
        if claims is None or not _times_hold(claims, time.time()):
            claims = jwt.decode(
                token,
                self.key.public_key(),
                algorithms=["RS256"],
                audience=audiences,
                options={"require": ["exp", "iat", "tid", "oid"], "verify_iss": False},
            )
            self._remember(key, claims)
        if claims["iat"] < self.state.tokens_not_before:
            raise jwt.ExpiredSignatureError("token revoked by the emulator control API")
        return dict(claims)

    def _remember(self, key: tuple[str, tuple[str, ...]], claims: dict[str, Any]) -> None:
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                # Make room in one sweep: drop expired tokens, then the older half of the rest.
                now = time.time()
                live = [(k, c) for k, c in self._verified.items() if _times_hold(c, now)]
                self._verified = dict(live[-(VERIFIED_TOKENS_KEPT // 2) :])
            self._verified[key] = claims

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()

        def b64(value: int) -> str:
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": self.kid,
                    "x5t": self.kid,
                    "n": b64(numbers.n),
                    "e": b64(numbers.e),
                    "alg": "RS256",
                }
            ]
        }
