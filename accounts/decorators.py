from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts import scoping

View = Callable[..., HttpResponse]


def portal_access_required(view: View) -> View:
    """Signed in, and holding a role in an allowed tenant; others see the no-access page."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not scoping.has_access(request.user):
            return redirect("accounts:no_access")
        return view(request, *args, **kwargs)

    return wrapper
