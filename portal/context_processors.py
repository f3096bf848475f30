from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from accounts import scoping
from accounts.models import Role, Side
from jit.selectors import inbox_count


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool
    badge: int = 0  # e.g. requests waiting for this person's decision


# (label, URL name, who sees it): sections appear as their pages exist.
NAV_SECTIONS = [
    ("My applications", "deployments:my_apps", "customer"),
    ("Customers", "deployments:customers", "publisher"),
    ("Requests", "jit:requests", "any"),
    ("Permissions", "permissions:overview", "any"),
    ("Catalog", "deployments:catalog", "any"),
]


def site(request: HttpRequest) -> dict[str, Any]:
    return {"portal_version": settings.PORTAL_VERSION, "nav_items": _nav_items(request)}


def _nav_items(request: HttpRequest) -> list[NavItem]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    # Read by the access check already on most pages (accounts.decorators).
    held: set[tuple[str, str]] = getattr(request, "roles_held", None) or scoping.roles_held(user)
    sides = {side for side, _ in held}
    audience = {
        "customer": Side.CUSTOMER in sides,
        "publisher": Side.PUBLISHER in sides,
        "any": bool(sides),
    }
    items = []
    for label, url_name, who in NAV_SECTIONS:
        if not audience[who]:
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        badge = 0
        if url_name == "jit:requests" and (Side.CUSTOMER, Role.CUSTOMER_ADMIN) in held:
            # The requests page counts its inbox anyway and leaves the total here.
            counted: int | None = getattr(request, "inbox_total", None)
            badge = inbox_count(user) if counted is None else counted
        items.append(NavItem(label, url, request.path.startswith(url), badge))
    profile_url = reverse("accounts:profile")
    items.append(NavItem("Profile", profile_url, request.path.startswith(profile_url)))
    return items
