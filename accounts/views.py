from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.adapters import NO_ACCESS_SESSION_KEY
from accounts.models import Membership
from portal.types import AuthedRequest


@require_GET
def no_access(request: HttpRequest) -> HttpResponse:
    """Where people land when their tenant is pending or blocked, or they hold no portal role."""
    details = request.session.get(NO_ACCESS_SESSION_KEY)
    return render(
        request,
        "accounts/no_access.html",
        {"details": details, "client_id": settings.ENTRA_CLIENT_ID},
        status=403,
    )


@login_required
@require_GET
def profile(request: AuthedRequest) -> HttpResponse:
    memberships = (
        Membership.objects.filter(user=request.user).select_related("tenant").order_by("tenant")
    )
    return render(
        request,
        "accounts/profile.html",
        {"memberships": memberships, "entra_logout_url": _entra_logout_url()},
    )


def _entra_logout_url() -> str:
    return f"{settings.ENTRA_SIGNIN_URL}/organizations/oauth2/v2.0/logout"
