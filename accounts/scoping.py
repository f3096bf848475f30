"""Membership lookups: the one place that says which tenants a person may see and act in.

Each model's QuerySet builds `visible_to(user)` on top of these, so views never decide scope
themselves. Conditions on the same membership row go in one filter() call: chaining filters
across a multi-valued join would match different rows and widen access.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from accounts.models import Membership, Role, Side, Tenant

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import User


def tenants_of(
    user: User | AnonymousUser, *, side: str | None = None, roles: list[Role] | None = None
) -> QuerySet[Tenant]:
    """Allowed tenants where the person holds a membership (of the given roles, if named)."""
    if not user.is_authenticated or not user.is_active:
        return Tenant.objects.none()
    conditions: dict[str, object] = {
        "memberships__user": user,
        "state": Tenant.State.ALLOWED,
    }
    if side is not None:
        conditions["side"] = side
    if roles is not None:
        conditions["memberships__role__in"] = roles
    return Tenant.objects.filter(**conditions).distinct()


def customer_tenants_of(user: User | AnonymousUser) -> QuerySet[Tenant]:
    return tenants_of(user, side=Side.CUSTOMER)


def publisher_tenants_of(user: User | AnonymousUser) -> QuerySet[Tenant]:
    return tenants_of(user, side=Side.PUBLISHER)


def visible_tenant_ids(user: User | AnonymousUser) -> tuple[list[int], list[int]]:
    """The pks of the person's allowed (customer, publisher) tenants, read in one query.

    For filters on the largest tables (JIT requests, the audit trail): given literal ids the
    database picks the right index for one customer's rows and for a publisher's thousands
    alike, where a subquery on each side of an OR leaves it guessing.
    """
    customers: list[int] = []
    publishers: list[int] = []
    for pk, side in tenants_of(user).values_list("pk", "side"):
        if side == Side.CUSTOMER:
            customers.append(pk)
        elif side == Side.PUBLISHER:
            publishers.append(pk)
    return customers, publishers


def administered_tenants_of(user: User | AnonymousUser) -> QuerySet[Tenant]:
    """Customer tenants where the person is an admin (may change policy and decide requests)."""
    return tenants_of(user, side=Side.CUSTOMER, roles=[Role.CUSTOMER_ADMIN])


def has_access(user: User | AnonymousUser) -> bool:
    """Whether the person may see any data at all."""
    return bool(roles_held(user))


def roles_held(user: User | AnonymousUser) -> set[tuple[str, str]]:
    """The (tenant side, role) pairs of the person's usable memberships; empty: no access."""
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.usable().filter(user=user).values_list("tenant__side", "role"))


def tenant_named(text: str, prefix: str = "") -> Q:
    """Tenants whose name contains `text` (any case), or whose Entra tenant id it is: the search
    boxes that filter lists by customer. A name in double quotes matches that whole name only,
    so links to one customer's rows ("Contoso") leave out "Contoso Ltd".

    `prefix` leads from the filtered model to the tenant, e.g. "application__customer_tenant__".
    """
    if len(text) > 2 and text.startswith('"') and text.endswith('"'):
        return Q(**{f"{prefix}display_name__iexact": text[1:-1]})
    matches = Q(**{f"{prefix}display_name__icontains": text})
    with contextlib.suppress(ValueError):
        matches |= Q(**{f"{prefix}entra_tenant_id": uuid.UUID(text)})
    return matches
