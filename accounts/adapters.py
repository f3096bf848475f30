"""django-allauth customisation: who may sign in, and what is recorded when they do."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import requests
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.http import HttpRequest
from django.shortcuts import redirect

from accounts import services
from accounts.identity import requests_verify
from accounts.models import Tenant, User

NO_ACCESS_SESSION_KEY = "no_access"


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # People arrive through Entra ID only; operators are created with createsuperuser.
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def get_requests_session(self) -> requests.Session:
        session: requests.Session = super().get_requests_session()  # type: ignore[no-untyped-call]  # allauth has no annotations
        # Passed per request: requests lets REQUESTS_CA_BUNDLE from the environment override a
        # session-level `verify`, which would ignore the configured CA bundle.
        session.request = functools.partial(session.request, verify=requests_verify())  # type: ignore[method-assign]  # on purpose, see above
        return session

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """Stop people of unknown or blocked tenants, or without a role, before any user exists."""
        data = sociallogin.account.extra_data
        tenant = _tenant_of(data)
        decision = services.access_decision(tenant=tenant, token_roles=data.get("roles", []))
        if not decision.granted:
            request.session[NO_ACCESS_SESSION_KEY] = {
                "reason": decision.reason,
                "tenant": str(tenant),
                "tenant_id": str(tenant.entra_tenant_id),
                "name": data.get("name", ""),
            }
            raise ImmediateHttpResponse(redirect("accounts:no_access"))
        if sociallogin.is_existing:
            assert isinstance(sociallogin.user, User)
            _record_sign_in(sociallogin.user, sociallogin, decision)

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> User:
        user: User = super().save_user(request, sociallogin, form)
        data = sociallogin.account.extra_data
        tenant = _tenant_of(data)
        decision = services.access_decision(tenant=tenant, token_roles=data.get("roles", []))
        _record_sign_in(user, sociallogin, decision)
        return user


def _record_sign_in(
    user: User, sociallogin: SocialLogin, decision: services.AccessDecision
) -> None:
    data = sociallogin.account.extra_data
    services.entra_sign_in_complete(
        user=user,
        tenant_id=uuid.UUID(data["tid"]),
        object_id=uuid.UUID(data["oid"]),
        display_name=data.get("name") or data.get("displayName") or "",
        decision=decision,
        token_roles=data.get("roles", []),
        refresh_token=sociallogin.token.token_secret if sociallogin.token else "",
    )


def _tenant_of(data: dict[str, Any]) -> Tenant:
    return services.tenant_for_sign_in(
        tenant_id=uuid.UUID(data["tid"]),
        display_name=data.get("tenant_display_name") or _domain_of(data),
        has_entra_p2=data.get("tenant_has_entra_p2") or Tenant.P2.UNKNOWN,
    )


def _domain_of(data: dict[str, Any]) -> str:
    """When Graph gives no organisation name, the sign-in domain names the tenant."""
    username = str(data.get("preferred_username") or data.get("userPrincipalName") or "")
    return username.partition("@")[2]
