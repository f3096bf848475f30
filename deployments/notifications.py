"""Marketplace notifications: what Azure POSTs when a managed application is created, changed or
deleted (https://learn.microsoft.com/azure/azure-resource-manager/managed-applications/
publish-notifications). They only say that something happened; the sync asks ARM for the facts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from deployments.models import MarketplaceEvent, Subscription

# The seven documented (eventType, provisioningState) pairs.
KNOWN_EVENTS = {
    ("PUT", "Accepted"),
    ("PUT", "Succeeded"),
    ("PUT", "Failed"),
    ("PATCH", "Succeeded"),
    ("DELETE", "Deleting"),
    ("DELETE", "Deleted"),
    ("DELETE", "Failed"),
}
APPLICATION_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[0-9a-fA-F-]{36})/resourceGroups/[^/]+"
    r"/providers/Microsoft\.Solutions/applications/[^/]+$",
    re.IGNORECASE,
)


class InvalidNotification(Exception):
    """The body is not a notification we understand; the message says why."""


@dataclass(frozen=True)
class Notification:
    application_id: str
    subscription_id: str
    event_type: str
    provisioning_state: str
    event_time: dt.datetime
    plan: dict[str, str]
    payload: dict[str, Any]


def parse_notification(payload: Any) -> Notification:
    if not isinstance(payload, dict):
        raise InvalidNotification("the body must be a JSON object")
    event_type = str(payload.get("eventType", ""))
    state = str(payload.get("provisioningState", ""))
    if (event_type, state) not in KNOWN_EVENTS:
        raise InvalidNotification(
            f"unknown eventType/provisioningState pair {event_type!r}/{state!r}"
        )
    application_id = str(payload.get("applicationId", ""))
    if application_id and not application_id.startswith("/"):
        application_id = "/" + application_id  # one documented sample omits the leading slash
    match = APPLICATION_ID.match(application_id)
    if match is None:
        raise InvalidNotification("applicationId must be a Microsoft.Solutions/applications id")
    plan = payload.get("plan") or {}
    if not isinstance(plan, dict):
        raise InvalidNotification("plan must be an object")
    return Notification(
        application_id=application_id,
        subscription_id=match["subscription"].lower(),
        event_type=event_type,
        provisioning_state=state,
        event_time=_parse_time(payload.get("eventTime")),
        plan={str(k): str(v) for k, v in plan.items()},
        payload=payload,
    )


def _parse_time(value: Any) -> dt.datetime:
    """ISO 8601 in UTC; Azure sends seven fractional digits, Python reads at most six."""
    text = str(value or "")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidNotification("eventTime must be an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def record_notification(notification: Notification) -> tuple[MarketplaceEvent, bool]:
    """Keep the event once and queue a sync of its application when its tenant is known.

    Returns the event and whether it was new; a repeated delivery changes nothing.
    """
    from deployments.sync import queue_application_sync

    subscription = (
        Subscription.objects.select_related("tenant")
        .filter(subscription_id__iexact=notification.subscription_id)
        .first()
    )
    tenant = subscription.tenant if subscription else None
    try:
        with transaction.atomic():
            event = MarketplaceEvent.objects.create(
                application_arm_id=notification.application_id,
                event_type=notification.event_type,
                provisioning_state=notification.provisioning_state,
                event_time=notification.event_time,
                customer_tenant=tenant,
                outcome=(
                    MarketplaceEvent.Outcome.QUEUED
                    if tenant
                    else MarketplaceEvent.Outcome.UNMATCHED
                ),
                plan=notification.plan,
                payload=notification.payload,
            )
            if tenant is not None:
                queue_application_sync(
                    tenant=tenant, application_arm_id=notification.application_id
                )
    except IntegrityError:
        existing = MarketplaceEvent.objects.get(
            application_arm_id=notification.application_id,
            event_type=notification.event_type,
            provisioning_state=notification.provisioning_state,
            event_time=notification.event_time,
        )
        return existing, False
    return event, True
