"""The endpoint Azure calls with marketplace notifications: `<path>/resource?sig=<secret>`."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from deployments.notifications import InvalidNotification, parse_notification, record_notification
from portal import strict_json

MAX_BODY_BYTES = 64 * 1024


@csrf_exempt  # Azure cannot send a CSRF token; the secret in the query string authenticates it
@require_POST
def receive(request: HttpRequest) -> JsonResponse:
    secret = settings.MARKETPLACE_WEBHOOK_SECRET
    if not secret:
        raise Http404("Marketplace notifications are not configured")
    if not constant_time_compare(request.GET.get("sig", ""), secret):
        return JsonResponse({"error": "missing or wrong sig"}, status=401)
    if len(request.body) > MAX_BODY_BYTES:
        return JsonResponse({"error": "body too large"}, status=413)
    try:
        notification = parse_notification(strict_json.loads(request.body))
        event, created = record_notification(notification)
    except (strict_json.InvalidJson, InvalidNotification) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(
        {"status": "accepted" if created else "duplicate", "outcome": event.outcome}, status=200
    )
