from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import scoping
from accounts.services import sign_in_is_fresh

# A view keeps its own signature through these decorators.
View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def portal_access_required(view: View) -> View:
    """Signed in, and holding a role in an allowed tenant; others see the no-access page."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        held = scoping.roles_held(request.user)
        if not held:
            return redirect("accounts:no_access")
        # The navigation shows sections by the same roles (portal.context_processors).
        request.roles_held = held  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def recent_sign_in_required(view: View) -> View:
    """For sensitive actions: the sign-in must be younger than REAUTHENTICATE_AFTER_SECONDS.

    An older sign-in is sent through Entra ID again (the choice of account is offered anew) and
    comes back to the page the action was taken from.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and not sign_in_is_fresh(user=request.user):
            messages.info(
                request, "For your security, please sign in again to confirm this action."
            )
            back = request.headers.get("Referer", "")
            if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
                back = reverse("home")
            return redirect(f"{reverse('account_login')}?{urlencode({'next': back})}")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)
