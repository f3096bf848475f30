"""E-mails about approval windows: the notice before each occurrence opens and the word that an
announced one is called off (to the people who approve requests on the app), and the failures
(to every admin of the tenant). Built from the audit event, which keeps the occurrence's times."""

from __future__ import annotations

import datetime as dt

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Membership, Role, User
from deployments.models import ManagedApplication
from jit.models import AuditEvent, approver_allows
from jit.window_display import local_span
from jit.window_models import ApprovalWindow

Action = AuditEvent.Action

# action -> (template name, who hears of it)
MAILS: dict[str, tuple[str, str]] = {
    Action.WINDOW_NOTICE: ("window_notice", "approvers"),
    Action.WINDOW_CANCELED: ("window_canceled", "approvers"),
    Action.WINDOW_OPEN_FAILED: ("window_open_failed", "admins"),
    Action.WINDOW_RESTORE_FAILED: ("window_restore_failed", "admins"),
}


def _admins(app: ManagedApplication) -> list[User]:
    return list(
        User.objects.filter(
            pk__in=Membership.objects.usable()
            .filter(tenant=app.customer_tenant, role=Role.CUSTOMER_ADMIN)
            .values("user")
        )
    )


def notify(event: AuditEvent) -> int:
    """Send the mails of a window event; returns how many were sent."""
    from jit.notifications import base_url

    template, audience = MAILS[event.action]
    window = (
        ApprovalWindow.objects.filter(pk=event.after.get("window"))
        .select_related("acts_as")
        .first()
    )
    app = event.application
    try:  # the occurrence may be gone (called off): the event keeps its times
        starts_at = dt.datetime.fromisoformat(str(event.after["starts_at"]))
        ends_at = dt.datetime.fromisoformat(str(event.after["ends_at"]))
        span = local_span(starts_at, ends_at, str(event.after["time_zone"]))
    except (KeyError, ValueError):
        return 0
    people = _admins(app)
    if audience == "approvers":
        people = [p for p in people if approver_allows(app, p) or (window and p == window.acts_as)]
    context = {
        "event": event,
        "window": window,
        "acts_as": window.acts_as if window else "the admin who set it up",
        "app": app,
        "span": span,
        "url": base_url() + reverse("jit:windows", args=[app.pk]),
    }
    subject = " ".join(render_to_string(f"jit/mail/{template}_subject.txt", context).split())
    body = render_to_string(f"jit/mail/{template}.txt", context)
    sent = 0
    for person in people:
        if person.email:
            EmailMultiAlternatives(subject=subject, body=body, to=[person.email]).send()
            sent += 1
    return sent
