"""Types shared by the apps' views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from accounts.models import User

    class AuthedRequest(HttpRequest):
        """A request behind `portal_access_required`: a signed-in person, with htmx details."""

        user: User
        htmx: HtmxDetails

else:
    AuthedRequest = HttpRequest
