"""The endpoint Azure calls with marketplace notifications: `<path>/resource?sig=<secret>`.

Every refusal is counted per hour and reason (`deployments.rejections`) for the operations
dashboard; a failure to count is logged and never changes the answer.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from deployments import rejections
from deployments.models import WebhookRejection
from deployments.notifications import InvalidNotification, parse_notification, record_notification
from portal import rate_limits, strict_json

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
Reason = WebhookRejection.Reason


@csrf_exempt  # Azure cannot send a CSRF token; the secret in the query string authenticates it
@require_POST
def receive(request: HttpRequest) -> HttpResponse:
    # Every delivery counts against the address's limit, refused ones too (as rate_limits.limit
    # does; counted here so that a refusal is counted like the others), and the wrong secrets
    # the address has sent are read in the same round trip.
    used = rate_limits.count(request, key="ip", increment=["webhook"], read=["webhook_bad_secret"])
    if used["webhook"].should_limit:
        too_many = rate_limits.too_many_requests(request, retry_after=used["webhook"].time_left)
        return _refused(Reason.RATE_LIMITED, too_many)
    secret = settings.MARKETPLACE_WEBHOOK_SECRET
    if not secret:
        raise Http404("Marketplace notifications are not configured")
    if used["webhook_bad_secret"].used_up:
        # Once the wrong secrets are used up, even a right one waits: guessing must not pay off.
        return _refused(Reason.LOCKED_OUT, _too_many(used["webhook_bad_secret"].time_left))
    if not constant_time_compare(request.GET.get("sig", ""), secret):
        guessing = rate_limits.usage(request, "webhook_bad_secret", key="ip", increment=True)
        logger.warning(
            "Marketplace webhook refused a missing or wrong secret from %s (%d of %d allowed)",
            rate_limits.client_ip(request),
            guessing.count,
            guessing.limit,
        )
        return _refused(
            Reason.BAD_SECRET, JsonResponse({"error": "missing or wrong sig"}, status=401)
        )
    if len(request.body) > MAX_BODY_BYTES:
        return _refused(Reason.TOO_LARGE, JsonResponse({"error": "body too large"}, status=413))
    try:
        notification = parse_notification(strict_json.loads(request.body))
        event, created = record_notification(notification)
    except (strict_json.InvalidJson, InvalidNotification) as exc:
        return _refused(Reason.BAD_BODY, JsonResponse({"error": str(exc)}, status=400))
    return JsonResponse(
        {"status": "accepted" if created else "duplicate", "outcome": event.outcome}, status=200
    )


def _refused(reason: WebhookRejection.Reason, response: HttpResponse) -> HttpResponse:
    """Count the refusal, then answer it whether or not the count could be written."""
    try:
        rejections.count_rejection(reason)
    except DatabaseError as exc:
        logger.warning(
            "Marketplace webhook refusal (%s) not counted: the database failed (%s)",
            reason.value,
            type(exc).__name__,
        )
    return response


def _too_many(retry_after: int) -> JsonResponse:
    response = JsonResponse(
        {"error": "too many wrong secrets from this address; try again later"}, status=429
    )
    response["Retry-After"] = str(max(1, retry_after))
    return response
