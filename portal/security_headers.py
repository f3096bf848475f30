"""Response headers that keep pages out of caches and scripts to the portal's own files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from csp.constants import NONE, SELF
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


def content_security_policy(signin_url: str) -> dict[str, Any]:
    """django-csp's setting: scripts, styles and connections from the portal only, no inline code.

    Forms may also lead to the Entra sign-in origin: the sign-in and sign-out posts answer with a
    redirect there, and browsers hold redirects after a form post to `form-action`.
    """
    parts = urlsplit(signin_url)
    signin_origin = f"{parts.scheme}://{parts.netloc}"
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF],
            "style-src": [SELF],
            # Bootstrap draws form controls with data: SVG images.
            "img-src": [SELF, "data:"],
            "connect-src": [SELF],
            "font-src": [SELF],
            "object-src": [NONE],
            "base-uri": [NONE],
            "frame-ancestors": [NONE],
            "form-action": [SELF, signin_origin],
        }
    }


class NoStoreMiddleware:
    """Nothing the portal renders is kept by a browser or proxy cache: pages show one tenant's
    data, and the sign-in pages carry CSRF tokens. Static files never reach this (WhiteNoise
    answers them first, with its own long-lived headers)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response
