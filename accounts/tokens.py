"""Delegated ARM tokens for a signed-in person, redeemed from their stored refresh token.

One v2 access token serves one resource: sign-in yields a Graph token, so the ARM token is
obtained from the refresh token (https://learn.microsoft.com/entra/identity-platform/
v2-oauth2-auth-code-flow#refresh-the-access-token), cached encrypted, and renewed before expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import crypto
from accounts.identity import requests_verify
from accounts.models import EntraCredential, User

RENEW_BEFORE_EXPIRY = timedelta(minutes=5)


class SignInRequired(Exception):
    """The person's Entra session cannot be renewed; they must sign in again."""


class TokenServiceUnavailable(Exception):
    """Entra did not answer usefully; trying again later may work."""


def arm_access_token(user: User) -> tuple[str, int]:
    """A delegated ARM token for the person and its expiry (epoch seconds)."""
    with transaction.atomic():
        credential = EntraCredential.objects.select_for_update().filter(user=user).first()
        if credential is None:
            raise SignInRequired("no Entra sign-in is stored for this person")
        now = timezone.now()
        if (
            credential.arm_token_encrypted
            and credential.arm_token_expires_at
            and credential.arm_token_expires_at - now > RENEW_BEFORE_EXPIRY
        ):
            return (
                crypto.decrypt(credential.arm_token_encrypted),
                int(credential.arm_token_expires_at.timestamp()),
            )
        redeemed = _redeem_refresh_token(user, crypto.decrypt(credential.refresh_token_encrypted))
        expires_at = now + timedelta(seconds=redeemed.expires_in)
        credential.arm_token_encrypted = crypto.encrypt(redeemed.access_token)
        credential.arm_token_expires_at = expires_at
        if redeemed.refresh_token:  # Entra rotates refresh tokens; keep the newest.
            credential.refresh_token_encrypted = crypto.encrypt(redeemed.refresh_token)
        credential.save()
        return redeemed.access_token, int(expires_at.timestamp())


@dataclass(frozen=True)
class _Redeemed:
    access_token: str
    expires_in: int
    refresh_token: str


def _redeem_refresh_token(user: User, refresh_token: str) -> _Redeemed:
    tenant = user.entra_tenant_id or "organizations"
    try:
        response = requests.post(
            f"{settings.ENTRA_LOGIN_URL}/{tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "refresh_token",
                "client_id": settings.ENTRA_CLIENT_ID,
                "client_secret": settings.ENTRA_CLIENT_SECRET,
                "refresh_token": refresh_token,
                "scope": f"{settings.ARM_SCOPE} offline_access",
            },
            timeout=10,
            verify=requests_verify(),
        )
    except requests.RequestException as exc:
        raise TokenServiceUnavailable(type(exc).__name__) from None
    try:
        body = response.json()
    except ValueError:
        raise TokenServiceUnavailable(f"token endpoint answered {response.status_code}") from None
    if response.status_code == 400 and body.get("error") in {
        "invalid_grant",
        "interaction_required",
    }:
        raise SignInRequired(str(body.get("error_description", body["error"])).split("\n")[0])
    access_token = body.get("access_token")
    if response.status_code != 200 or not isinstance(access_token, str):
        raise TokenServiceUnavailable(f"token endpoint answered {response.status_code}")
    try:
        expires_in = int(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        raise TokenServiceUnavailable("token endpoint sent no usable expires_in") from None
    return _Redeemed(access_token, expires_in, str(body.get("refresh_token") or ""))
