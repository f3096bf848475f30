"""Marketplace notifications: what Azure POSTs when a managed application is created, changed or
deleted (https://learn.microsoft.com/azure/azure-resource-manager/managed-applications/
publish-notifications). They only say that something happened; the sync asks ARM for the facts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import DataError, IntegrityError, transaction

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
# Resource group names are at most 90 characters, application names at most 64; neither holds a
# slash or a control character. Matched whole: `$` would let a trailing newline through.
APPLICATION_ID = re.compile(
    r"/subscriptions/(?P<subscription>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/resourceGroups/[^/\x00-\x1f\x7f]{1,90}"
    r"/providers/Microsoft\.Solutions/applications/[^/\x00-\x1f\x7f]{1,64}",
    re.IGNORECASE,
)
MAX_PLAN_VALUE = 200


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
    event_type = _text(payload, "eventType")
    state = _text(payload, "provisioningState")
    if (event_type, state) not in KNOWN_EVENTS:
        raise InvalidNotification(
            f"unknown eventType/provisioningState pair {event_type[:20]!r}/{state[:20]!r}"
        )
    application_id = _text(payload, "applicationId")
    if application_id and not application_id.startswith("/"):
        application_id = "/" + application_id  # one documented sample omits the leading slash
    match = APPLICATION_ID.fullmatch(application_id)
    if match is None:
        raise InvalidNotification("applicationId must be a Microsoft.Solutions/applications id")
    plan = payload.get("plan") or {}
    if not isinstance(plan, dict) or not all(
        isinstance(v, str | int | float | bool) and len(str(v)) <= MAX_PLAN_VALUE
        for v in plan.values()
    ):
        raise InvalidNotification(
            f"plan must be an object of short values (at most {MAX_PLAN_VALUE} characters)"
        )
    return Notification(
        application_id=application_id,
        subscription_id=match["subscription"].lower(),
        event_type=event_type,
        provisioning_state=state,
        event_time=_parse_time(payload.get("eventTime")),
        plan={str(k): str(v) for k, v in plan.items()},
        payload=payload,
    )


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key, "")
    return value if isinstance(value, str) else ""


EARLIEST_EVENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST_EVENT = dt.datetime(2999, 12, 31, tzinfo=dt.UTC)


def _parse_time(value: Any) -> dt.datetime:
    """ISO 8601, kept in UTC; Azure sends seven fractional digits, Python reads at most six."""
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidNotification("eventTime must be an ISO 8601 date and time")
    text = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        moment = moment.astimezone(dt.UTC)  # an extreme offset can leave the calendar
    except (ValueError, OverflowError):
        raise InvalidNotification("eventTime must be an ISO 8601 date and time") from None
    if not EARLIEST_EVENT <= moment <= LATEST_EVENT:
        raise InvalidNotification("eventTime is outside the years 2000 to 2999")
    return moment


def record_notification(notification: Notification) -> tuple[MarketplaceEvent, bool]:
    """Keep the event once and queue a sync of its application when its tenant is known.

    Returns the event and whether it was new; a repeated delivery changes nothing.
    """
    from deployments.runs import queue_application_sync

    # Case-insensitive (ARM's ids are), through the index on the upper-cased id.
    subscriptions = (
        Subscription.objects.select_related("tenant")
        .filter(subscription_id__iexact=notification.subscription_id)
        .order_by()[:1]
    )
    tenant = subscriptions[0].tenant if subscriptions else None
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
        existing = MarketplaceEvent.objects.filter(
            application_arm_id=notification.application_id,
            event_type=notification.event_type,
            provisioning_state=notification.provisioning_state,
            event_time=notification.event_time,
        ).first()
        if existing is None:  # not the duplicate-delivery constraint: the body itself is at fault
            raise InvalidNotification("the notification could not be stored") from None
        return existing, False
    except DataError:
        raise InvalidNotification("the notification could not be stored") from None
    return event, True
