"""E-mails about approval windows: the notice before each occurrence opens (to the people who
approve requests on the app), and the failures (to every admin of the tenant)."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Membership, Role, User
from jit.models import AuditEvent, approver_allows
from jit.window_display import local_span
from jit.window_models import ApprovalWindowOccurrence

Action = AuditEvent.Action

# action -> (template name, who hears of it)
MAILS: dict[str, tuple[str, str]] = {
    Action.WINDOW_NOTICE: ("window_notice", "approvers"),
    Action.WINDOW_OPEN_FAILED: ("window_open_failed", "admins"),
    Action.WINDOW_RESTORE_FAILED: ("window_restore_failed", "admins"),
}


def _admins(occurrence: ApprovalWindowOccurrence) -> list[User]:
    return list(
        User.objects.filter(
            pk__in=Membership.objects.usable()
            .filter(tenant=occurrence.application.customer_tenant, role=Role.CUSTOMER_ADMIN)
            .values("user")
        )
    )


def notify(event: AuditEvent) -> int:
    """Send the mails of a window event; returns how many were sent."""
    from jit.notifications import base_url

    template, audience = MAILS[event.action]
    occurrence = (
        ApprovalWindowOccurrence.objects.filter(pk=event.after.get("occurrence"))
        .select_related("window", "window__acts_as", "application", "application__customer_tenant")
        .first()
    )
    if occurrence is None:
        return 0
    app = occurrence.application
    people = _admins(occurrence)
    if audience == "approvers":
        people = [p for p in people if approver_allows(app, p) or p == occurrence.window.acts_as]
    context = {
        "event": event,
        "occurrence": occurrence,
        "window": occurrence.window,
        "app": app,
        "span": local_span(occurrence.starts_at, occurrence.ends_at, occurrence.window.time_zone),
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
