"""The e-mail that tells a customer tenant's admins their publisher's rights changed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role, User
from deployments.models import (
    PermissionChangeEvent,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

# Change mails that could not be sent are sent again by a periodic task, this many per round.
UNSENT_MAILS_PER_ROUND = 100


def permission_change_mail_send(*, event_id: int) -> int:
    """E-mail one change to the customer tenant's admins, once; returns the messages sent."""
    claimed = PermissionChangeEvent.objects.filter(pk=event_id, mailed_at__isnull=True).update(
        mailed_at=timezone.now()
    )
    if not claimed:
        return 0
    event = PermissionChangeEvent.objects.select_related("application", "customer_tenant").get(
        pk=event_id
    )
    admins = (
        User.objects.filter(
            memberships__in=Membership.objects.usable().filter(
                tenant=event.customer_tenant, role=Role.CUSTOMER_ADMIN
            )
        )
        .exclude(email="")
        .distinct()
    )
    base = settings.PORTAL_BASE_URL
    context = {
        "event": event,
        "app": event.application,
        "url": base + reverse("permissions:app", args=[event.application.pk]),
        "feed_url": base + reverse("permissions:changes"),
    }
    subject = render_to_string("permissions/mail/change_subject.txt", context).strip()
    body = render_to_string("permissions/mail/change.txt", context)
    sent = 0
    try:
        for admin in admins:  # one message each: admins need not see each other's addresses
            sent += send_mail(subject, body, None, [admin.email], fail_silently=False)
    except OSError:
        # Give the claim back so the next round of `send_unsent_change_mails` sends it.
        PermissionChangeEvent.objects.filter(pk=event_id).update(mailed_at=None)
        log.exception("Could not e-mail permission change %s", event_id)
    return sent


def send_unsent_change_mails(*, limit: int = UNSENT_MAILS_PER_ROUND) -> int:
    """Send again the change mails that could not be sent, oldest first (each is claimed once, so
    a mail being sent right now is left alone). Returns the messages sent."""
    unsent = PermissionChangeEvent.objects.filter(mailed_at__isnull=True).order_by("pk")
    return sum(
        permission_change_mail_send(event_id=event_id)
        for event_id in unsent.values_list("pk", flat=True)[:limit]
    )
