"""E-mails about JIT requests, one set per audit event, each linking to the request page."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Membership, Role, User
from jit.hints import request_hints
from jit.models import AuditEvent, JitRequest, approver_allows

Action = AuditEvent.Action

# action -> (template name, who hears of it)
MAILS: dict[str, tuple[str, tuple[str, ...]]] = {
    Action.SUBMITTED: ("new_request", ("approvers",)),
    Action.APPROVED: ("decision", ("requester",)),
    Action.DENIED: ("decision", ("requester",)),
    Action.GRANT_STARTED: ("grant_started", ("requester", "approvers")),
    Action.GRANT_ENDED: ("grant_ended", ("requester", "approvers")),
    Action.TIMEOUT_WARNING: ("timeout_warning", ("approvers",)),
    Action.TIMED_OUT: ("timed_out", ("requester",)),
    Action.SELF_ADDED_APPROVER: ("self_added_approver", ("approvers",)),
}


def base_url() -> str:
    return str(settings.PORTAL_BASE_URL).rstrip("/")


def request_url(jit: JitRequest) -> str:
    return base_url() + reverse("jit:request_detail", args=[jit.pk])


def approvers_of(jit: JitRequest) -> list[User]:
    """Customer admins of the tenant whom the app's policy allows to approve."""
    admins = User.objects.filter(
        pk__in=Membership.objects.usable()
        .filter(tenant=jit.application.customer_tenant, role=Role.CUSTOMER_ADMIN)
        .values("user")
    )
    return [user for user in admins if approver_allows(jit.application, user)]


def requester_of(jit: JitRequest) -> list[User]:
    if jit.requested_by is not None:
        return [jit.requested_by]
    if jit.requester_oid:
        return list(User.objects.filter(entra_object_id=jit.requester_oid))
    return []


def notify(event: AuditEvent) -> int:
    """Send the mails this event calls for; returns how many were sent."""
    from jit import window_mail

    if event.action in window_mail.MAILS:
        return window_mail.notify(event)
    mail = MAILS.get(event.action)
    jit = event.jit_request
    if mail is None or jit is None:
        return 0
    template, audiences = mail
    people: dict[int, User] = {}
    for audience in audiences:
        found = approvers_of(jit) if audience == "approvers" else requester_of(jit)
        people.update({user.pk: user for user in found if user.email})
    if event.actor_id is not None:
        people.pop(event.actor_id, None)  # nobody is mailed about what they did themselves
    context = {"event": event, "jit": jit, "url": request_url(jit), "app": jit.application}
    if template == "new_request":
        context["hints"] = request_hints(jit)
    subject = " ".join(render_to_string(f"jit/mail/{template}_subject.txt", context).split())
    body = render_to_string(f"jit/mail/{template}.txt", context)
    for person in people.values():
        message = EmailMultiAlternatives(
            subject=subject, body=body, to=[person.email], from_email=None
        )
        message.send()
    return len(people)
