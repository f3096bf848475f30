"""Workflows of the accounts app: what happens when a person signs in with Entra ID."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import crypto
from accounts.models import OPERATOR_ROLE, EntraCredential, Membership, Role, Side, Tenant, User


@dataclass(frozen=True)
class AccessDecision:
    tenant: Tenant
    roles: list[Role]
    reason: str  # empty when access is granted

    @property
    def granted(self) -> bool:
        return not self.reason


def tenant_for_sign_in(
    *, tenant_id: uuid.UUID, display_name: str, has_entra_p2: str = Tenant.P2.UNKNOWN
) -> Tenant:
    """The tenant a person signs in from; created pending review the first time it is seen.

    What Graph said about it (name, licence) is kept; an unknown answer never overwrites a known one.
    """
    is_publisher = str(tenant_id) == settings.PUBLISHER_TENANT_ID
    tenant, created = Tenant.objects.get_or_create(
        entra_tenant_id=tenant_id,
        defaults={
            "display_name": display_name,
            "side": Side.PUBLISHER if is_publisher else Side.CUSTOMER,
            # The portal's own publisher tenant needs no review.
            "state": Tenant.State.ALLOWED if is_publisher else Tenant.State.PENDING,
            "has_entra_p2": has_entra_p2,
        },
    )
    changes: dict[str, str] = {}
    if display_name and display_name != tenant.display_name:
        changes["display_name"] = display_name
    if has_entra_p2 != Tenant.P2.UNKNOWN and has_entra_p2 != tenant.has_entra_p2:
        changes["has_entra_p2"] = has_entra_p2
    if not created and changes:
        Tenant.objects.filter(pk=tenant.pk).update(**changes)
        for field, value in changes.items():
            setattr(tenant, field, value)
    return tenant


def access_decision(*, tenant: Tenant, token_roles: list[str]) -> AccessDecision:
    """Which portal roles the ID token grants in this tenant, or why the person gets none."""
    roles = [role for role in Role.for_side(tenant.side) if role.value in token_roles]
    if tenant.state == Tenant.State.BLOCKED:
        reason = "blocked"
    elif tenant.state == Tenant.State.PENDING:
        reason = "pending"
    elif not roles and not is_operator(tenant=tenant, token_roles=token_roles):
        reason = "no_role"
    else:
        reason = ""
    return AccessDecision(tenant=tenant, roles=roles, reason=reason)


def is_operator(*, tenant: Tenant, token_roles: list[str]) -> bool:
    return tenant.side == Side.PUBLISHER and OPERATOR_ROLE in token_roles


@transaction.atomic
def entra_sign_in_complete(
    *,
    user: User,
    tenant_id: uuid.UUID,
    object_id: uuid.UUID,
    display_name: str,
    decision: AccessDecision,
    token_roles: list[str],
    refresh_token: str,
) -> None:
    """Record who signed in: their identity, memberships from app roles, and encrypted tokens."""
    user.entra_tenant_id = tenant_id
    user.entra_object_id = object_id
    user.display_name = display_name
    user.is_staff = is_operator(tenant=decision.tenant, token_roles=token_roles)
    user.save(update_fields=["entra_tenant_id", "entra_object_id", "display_name", "is_staff"])
    if user.is_staff:
        user.groups.add(operators_group())
    else:
        user.groups.remove(*Group.objects.filter(name=OPERATORS_GROUP))

    Membership.objects.filter(user=user).exclude(
        tenant=decision.tenant, role__in=decision.roles
    ).delete()
    for role in decision.roles:
        Membership.objects.get_or_create(user=user, tenant=decision.tenant, role=role)

    if refresh_token:
        EntraCredential.objects.update_or_create(
            user=user,
            defaults={
                "refresh_token_encrypted": crypto.encrypt(refresh_token),
                "arm_token_encrypted": None,
                "arm_token_expires_at": None,
                "signed_in_at": timezone.now(),
            },
        )


OPERATORS_GROUP = "Operators"
OPERATOR_APPS = ("accounts", "deployments", "jit", "django_celery_beat")


def operators_group() -> Group:
    """The admin permissions of people holding the Operator app role in the publisher tenant."""
    group, created = Group.objects.get_or_create(name=OPERATORS_GROUP)
    if created:
        group.permissions.set(Permission.objects.filter(content_type__app_label__in=OPERATOR_APPS))
    return group


def sign_in_is_fresh(*, user: User, max_age: timedelta | None = None) -> bool:
    """Whether the person signed in recently enough for a sensitive action."""
    limit = max_age or timedelta(seconds=settings.REAUTHENTICATE_AFTER_SECONDS)
    credential = EntraCredential.objects.filter(user=user).only("signed_in_at").first()
    signed_in_at = credential.signed_in_at if credential else user.last_login
    return signed_in_at is not None and timezone.now() - signed_in_at <= limit


# What operators do to tenants (the admin's actions) -------------------------------------------


def tenants_allow(tenants: QuerySet[Tenant]) -> list[Tenant]:
    """Let the tenants' people in; returns the tenants that were not allowed before."""
    changed = list(tenants.exclude(state=Tenant.State.ALLOWED))
    Tenant.objects.filter(pk__in=[t.pk for t in changed]).update(state=Tenant.State.ALLOWED)
    return changed


@dataclass(frozen=True)
class Blocked:
    tenants: list[Tenant]  # the tenants that were not blocked before
    sessions_ended: int


def tenants_block(tenants: QuerySet[Tenant]) -> Blocked:
    """Keep the tenants' people out, and sign out at once those who had access only there."""
    with transaction.atomic():
        changed = list(tenants.exclude(state=Tenant.State.BLOCKED))
        Tenant.objects.filter(pk__in=[t.pk for t in changed]).update(state=Tenant.State.BLOCKED)
        ended = sessions_end_for_tenants(Tenant.objects.filter(pk__in=[t.pk for t in changed]))
    return Blocked(tenants=changed, sessions_ended=ended)


def users_without_other_access(tenants: QuerySet[Tenant]) -> QuerySet[User]:
    """People with a membership in these tenants and no usable membership anywhere."""
    return (
        User.objects.filter(memberships__tenant__in=tenants)
        .exclude(pk__in=Membership.objects.usable().values("user"))
        .distinct()
    )


def sessions_end_for_tenants(tenants: QuerySet[Tenant]) -> int:
    """Delete the sessions of `users_without_other_access`; returns how many were deleted.

    Sessions are stored signed, not by user, so each unexpired one is decoded to find its user.
    """
    users = {str(pk) for pk in users_without_other_access(tenants).values_list("pk", flat=True)}
    if not users:
        return 0
    keys = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get(SESSION_KEY) in users
    ]
    Session.objects.filter(session_key__in=keys).delete()
    return len(keys)
