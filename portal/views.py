import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import health

logger = logging.getLogger(__name__)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 or 503 for load balancers. Which backends are in use and why one failed is logged and
    shown to operators only: the public learns nothing about the installation."""
    checks = {"database": health.check_database(), "broker": health.check_broker()}
    healthy = all(check.ok for check in checks.values())
    for name, check in checks.items():
        if not check.ok:
            logger.warning("Health check failed: %s (%s)", name, check.detail)
    body: dict[str, object] = {"status": "ok" if healthy else "unavailable"}
    # Who is asking is known only when the database answers (the session lives there).
    if checks["database"].ok and request.user.is_authenticated and request.user.is_staff:
        body["checks"] = {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()}
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when this process can serve: the database and the broker answer and every migration
    is applied; 503 otherwise, naming the failed checks (never the backends or why: that is
    logged). Migrations are only checked when the database answers."""
    checks = {"database": health.check_database(), "broker": health.check_broker()}
    if checks["database"].ok:
        checks["migrations"] = health.check_migrations()
    failed = [name for name, check in checks.items() if not check.ok]
    for name in failed:
        logger.warning("Readiness check failed: %s (%s)", name, checks[name].detail)
    if failed:
        return JsonResponse({"status": "unavailable", "failed": failed}, status=503)
    return JsonResponse({"status": "ready"})
