"""Only configured sign-in providers are installed, and none of their URLs answers 500, whatever
an anonymous visitor sends to them."""

import pytest
from allauth.socialaccount import providers
from django.conf import settings
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

PROVIDER_IDS = [cls.id for cls in providers.registry.get_class_list()]


def test_the_only_installed_provider_is_entra() -> None:
    assert PROVIDER_IDS == ["entra"]


@pytest.mark.parametrize("provider_id", PROVIDER_IDS)
def test_every_installed_provider_has_a_configured_app(provider_id: str) -> None:
    apps = settings.SOCIALACCOUNT_PROVIDERS[provider_id]["APPS"]
    assert isinstance(apps, list)
    assert apps and all(app["client_id"] for app in apps)


@pytest.mark.parametrize("provider_id", PROVIDER_IDS)
@pytest.mark.parametrize("suffix", ["login", "callback"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_provider_urls_never_fail_for_an_anonymous_visitor(
    client: Client, provider_id: str, suffix: str, method: str
) -> None:
    name = f"{provider_id}_login" if suffix == "login" else f"{provider_id}_callback"
    response = getattr(client, method)(reverse(name))
    assert response.status_code < 500


def test_a_provider_that_is_not_installed_is_not_found(client: Client) -> None:
    assert client.get("/auth/microsoft/login/").status_code == 404
    assert client.get("/auth/microsoft/login/callback/").status_code == 404


callback_values = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["", "access_denied", "\x00", "%00", "../../", "a" * 5000]),
)


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(
            ["code", "state", "error", "error_description", "session_state", "id_token", "x"]
        ),
        callback_values,
        max_size=5,
    )
)
def test_hostile_callback_parameters_never_fail(client: Client, params: dict[str, str]) -> None:
    response = client.get(reverse("entra_callback"), params)
    assert response.status_code < 500, params
