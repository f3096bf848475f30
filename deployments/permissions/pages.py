"""What each permission page renders, put together from the picture, rights and timeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from accounts.models import User
from deployments.models import (
    ManagedApplication,
    Offer,
    PermissionSnapshot,
)
from deployments.permissions import plain_language as pl

if TYPE_CHECKING:
    pass

from deployments.permissions.names import fallback_name
from deployments.permissions.picture import Caution, names_for_pictures, picture_of, state_for_offer
from deployments.permissions.rights import person_rights
from deployments.permissions.risk import Risk
from deployments.permissions.timeline import timeline_of


def app_page(*, application: ManagedApplication, user: User) -> dict[str, Any]:
    """What the permission page of an application shows to this person."""
    from accounts import scoping

    is_customer = (
        scoping.customer_tenants_of(user).filter(pk=application.customer_tenant_id).exists()
    )
    snapshot = PermissionSnapshot.objects.filter(application=application).first()
    context: dict[str, Any] = {
        "app": application,
        "is_customer": is_customer,
        "is_publisher": not is_customer,
        "snapshot": snapshot,
        "changes": application.permission_changes.all()[:10],
    }
    if snapshot is None:
        return context
    picture = picture_of(
        snapshot.state,
        viewer=user,
        audience="customer" if is_customer else "publisher",
        jit_offered=bool(application.offer and application.offer.jit_offered),
        has_p2=application.customer_tenant.has_entra_p2,
    )
    now = timezone.now()
    active = [
        e
        for e in application.elevations.filter(state="Approved", end__gt=now, start__lte=now)
        if e.is_active(now)
    ]
    names = {g.principal_id: g.principal_name for g in picture.grants}
    roles = {g.role_id: g.role_name for g in picture.grants}
    context.update(
        picture=picture,
        rights=person_rights(application=application, user=user),
        active_elevations=[
            {
                "who": names.get(e.principal_id) or fallback_name(e.principal_id),
                "role": roles.get(e.role_definition_id, e.role_definition_id),
                "until": e.end,
            }
            for e in active
        ],
        timeline=timeline_of(application, picture, now=now),
    )
    return context


def offer_page(*, offer: Offer, user: User) -> dict[str, Any]:
    """What an offer exposes before install, for a customer judging it or its publisher."""
    from accounts import scoping

    is_publisher = (
        offer.publisher_tenant_id is not None
        and scoping.publisher_tenants_of(user).filter(pk=offer.publisher_tenant_id).exists()
    )
    picture = picture_of(
        state_for_offer(offer),
        viewer=user,
        audience="publisher" if is_publisher else "customer",
        jit_offered=offer.jit_offered,
    )
    # Before install the JIT settings are Azure's defaults, which the page explains once instead.
    picture.cautions = [c for c in picture.cautions if c.title == "Standing access"]
    return {
        "offer": offer,
        "picture": picture,
        "is_publisher": is_publisher,
        "is_customer": not is_publisher,
        "roles_unread": any(not g.permissions for g in picture.grants),
    }


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class OverviewRow:
    """One application in the overview: its permission model in a line."""

    app: ManagedApplication
    synced: bool
    publisher_always: str
    jit: str
    lock_level: str
    lock_label: str
    cautions: list[Caution]
    you_named: bool
    you_on_request: list[str]
    last_change: dt.datetime | None
    risk: Risk | None = None


def overview_rows(*, applications: Iterable[ManagedApplication], user: User) -> list[OverviewRow]:
    """The permission model of each application, in a line, for this person."""
    applications = list(applications)
    # One query for the page's snapshots, not one per row.
    snapshots = {
        snapshot.application_id: snapshot
        for snapshot in PermissionSnapshot.objects.filter(application__in=applications)
    }
    names = names_for_pictures(snapshot.state for snapshot in snapshots.values())
    rows = []
    for app in applications:
        snapshot = snapshots.get(app.pk)
        if snapshot is None:
            rows.append(OverviewRow(app, False, "", "", "", "", [], False, [], None))
            continue
        picture = picture_of(
            snapshot.state,
            viewer=user,
            audience="customer",
            jit_offered=bool(app.offer and app.offer.jit_offered),
            has_p2=app.customer_tenant.has_entra_p2,
            names=names,
        )
        if picture.jit_enabled:
            who = ", ".join(picture.approvers) or "no approvers named"
            jit = (
                f"{picture.approval_words.capitalize()} ({who}), up to {picture.max_duration_words}"
            )
        else:
            jit = "Not used: standing access" if picture.state.get("jitPolicy") is None else "Off"
        rows.append(
            OverviewRow(
                app=app,
                synced=True,
                publisher_always=pl.join_phrases(picture.publisher_always) or "nothing",
                jit=jit,
                lock_level=picture.lock_level,
                lock_label=picture.lock_label,
                cautions=picture.cautions,
                you_named=picture.you_named,
                you_on_request=[g.role_name for g in picture.grants if g.is_you]
                if picture.jit_enabled
                else [],
                last_change=snapshot.changed_at
                if snapshot.changed_at > snapshot.first_seen_at
                else None,
                risk=picture.risk,
            )
        )
    return rows
