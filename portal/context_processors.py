from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from accounts import scoping
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
    ("Catalog", "deployments:catalog", "any"),
]


def site(request: HttpRequest) -> dict[str, Any]:
    return {"portal_version": settings.PORTAL_VERSION, "nav_items": _nav_items(request)}


def _nav_items(request: HttpRequest) -> list[NavItem]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    sides = {
        "customer": scoping.customer_tenants_of(user).exists(),
        "publisher": scoping.publisher_tenants_of(user).exists(),
    }
    sides["any"] = sides["customer"] or sides["publisher"]
    items = []
    for label, url_name, audience in NAV_SECTIONS:
        if not sides[audience]:
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        badge = inbox_count(user) if url_name == "jit:requests" else 0
        items.append(NavItem(label, url, request.path.startswith(url), badge))
    profile_url = reverse("accounts:profile")
    items.append(NavItem("Profile", profile_url, request.path.startswith(profile_url)))
    return items
