from datetime import timedelta

from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone
from pytest_django import Settings

from accounts import crypto
from accounts.decorators import portal_access_required, recent_sign_in_required
from accounts.models import EntraCredential, Tenant, User


def _request(
    user: User, path: str = "/x", referer: str = "http://testserver/apps/42/"
) -> WSGIRequest:
    request = RequestFactory().post(path, HTTP_REFERER=referer)
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]  # what MessageMiddleware sets
    return request


@recent_sign_in_required
def _sensitive(request: HttpRequest) -> HttpResponse:
    return HttpResponse("done")


@portal_access_required
def _page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("page")


def test_fresh_sign_in_passes(alice: User) -> None:
    EntraCredential.objects.create(user=alice, refresh_token_encrypted=crypto.encrypt("r"))
    assert _sensitive(_request(alice)).content == b"done"


def test_old_sign_in_is_sent_to_sign_in_again_and_back(alice: User, settings: Settings) -> None:
    settings.REAUTHENTICATE_AFTER_SECONDS = 3600
    EntraCredential.objects.create(
        user=alice,
        refresh_token_encrypted=crypto.encrypt("r"),
        signed_in_at=timezone.now() - timedelta(hours=2),
    )
    response = _sensitive(_request(alice))
    assert response.status_code == 302
    assert response["Location"] == "/auth/login/?next=http%3A%2F%2Ftestserver%2Fapps%2F42%2F"


def test_foreign_referer_is_not_used_as_the_way_back(alice: User, settings: Settings) -> None:
    EntraCredential.objects.create(
        user=alice,
        refresh_token_encrypted=crypto.encrypt("r"),
        signed_in_at=timezone.now() - timedelta(days=1),
    )
    response = _sensitive(_request(alice, referer="https://evil.example/"))
    assert response["Location"] == "/auth/login/?next=%2F"


def test_portal_access_needs_an_allowed_tenant(alice: User, fabrikam: Tenant) -> None:
    assert _page(_request(alice)).content == b"page"
    Tenant.objects.filter(pk=fabrikam.pk).update(state=Tenant.State.BLOCKED)
    response = _page(_request(alice))
    assert response["Location"] == "/accounts/no-access/"
