from __future__ import annotations

from typing import Any

from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialApp, SocialLogin, SocialToken
from allauth.socialaccount.providers.microsoft.views import (
    MicrosoftGraphOAuth2Adapter,
    _check_errors,
)
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings
from django.http import HttpRequest

from accounts.graph import tenant_facts
from accounts.identity import InvalidIdToken, validate_id_token
from portal import rate_limits

TENANT = "organizations"  # work and school accounts of any tenant; never personal accounts


class EntraOAuth2Adapter(MicrosoftGraphOAuth2Adapter):
    provider_id = "entra"

    @property
    def authorize_url(self) -> str:
        return f"{settings.ENTRA_SIGNIN_URL}/{TENANT}/oauth2/v2.0/authorize"

    @property
    def access_token_url(self) -> str:  # type: ignore[override]  # a class attribute in allauth; ours follows the settings
        return f"{settings.ENTRA_LOGIN_URL}/{TENANT}/oauth2/v2.0/token"

    @property
    def profile_url(self) -> str:
        return f"{settings.GRAPH_URL}/v1.0/me"

    def complete_login(
        self, request: HttpRequest, app: SocialApp, token: SocialToken, **kwargs: Any
    ) -> SocialLogin:
        from accounts.entra.provider import NONCE_SESSION_KEY

        response = kwargs.get("response") or {}
        raw_id_token = response.get("id_token")
        if not raw_id_token:
            raise OAuth2Error("The token response carried no ID token")
        try:
            identity = validate_id_token(
                raw_id_token, nonce=request.session.pop(NONCE_SESSION_KEY, None)
            )
        except InvalidIdToken as exc:
            raise OAuth2Error(f"Sign-in rejected: {exc}") from None

        headers = {"Authorization": f"Bearer {token.token}"}
        with get_adapter().get_requests_session() as session:
            profile = session.get(self.profile_url, params=self.profile_url_params, headers=headers)
            extra_data = _check_errors(profile)
            facts = tenant_facts(session, token.token)
        extra_data.update(
            tenant_display_name=facts.display_name,
            tenant_has_entra_p2=facts.has_entra_p2,
            tid=str(identity.tenant_id),
            oid=str(identity.object_id),
            name=identity.name,
            preferred_username=identity.username,
            roles=list(identity.roles),
        )
        provider = self.get_provider()  # type: ignore[no-untyped-call]  # allauth has no annotations
        login: SocialLogin = provider.sociallogin_from_response(request, extra_data)
        return login


# Limited per address: both are open to anyone, and each costs calls to Entra ID.
oauth2_login = rate_limits.limit("sign_in", key="ip")(
    OAuth2LoginView.adapter_view(EntraOAuth2Adapter)
)
oauth2_callback = rate_limits.limit("sign_in", key="ip")(
    OAuth2CallbackView.adapter_view(EntraOAuth2Adapter)
)
