"""Approval window pages of an application: the schedule (everyone on the customer's side) and,
for its tenant's admins, adding, changing, disabling and deleting windows. POST only changes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.decorators import portal_access_required, recent_sign_in_required
from deployments.models import ManagedApplication
from jit import selectors, window_services, windows
from jit.window_display import banners, local_span, next_window
from jit.window_forms import ApprovalWindowForm
from jit.window_models import ApprovalWindow, ApprovalWindowOccurrence
from portal import rate_limits
from portal.types import AuthedRequest


def _can_edit(request: AuthedRequest, app: ManagedApplication) -> bool:
    return selectors.policy_editable_apps(request.user).filter(pk=app.pk).exists()


@portal_access_required
@require_http_methods(["GET", "POST"])
@rate_limits.limit("actions", key="user_or_ip", methods=("POST",))
def windows_page(request: AuthedRequest, app_pk: int) -> HttpResponse:
    """The schedule, with the form to add a window."""
    app = get_object_or_404(selectors.policy_apps(request.user), pk=app_pk)
    can_edit = _can_edit(request, app)
    form = ApprovalWindowForm(request.POST if request.method == "POST" else None, application=app)
    if request.method == "POST":
        if not can_edit:
            return render(
                request, "jit/windows.html", _context(request, app, form, False), status=403
            )
        if form.is_valid():
            return _saved(request, app, form, None)
    return render(request, "jit/windows.html", _context(request, app, form, can_edit))


@portal_access_required
@require_http_methods(["GET", "POST"])
@rate_limits.limit("actions", key="user_or_ip", methods=("POST",))
def window_page(request: AuthedRequest, app_pk: int, pk: int) -> HttpResponse:
    """One window: change it (POST `action=save`) or delete it (POST `action=delete`)."""
    app = get_object_or_404(selectors.policy_apps(request.user), pk=app_pk)
    window = get_object_or_404(
        ApprovalWindow.objects.visible_to(request.user), application=app, pk=pk
    )
    can_edit = _can_edit(request, app)
    posted = request.POST if request.method == "POST" else None
    form = ApprovalWindowForm(posted, application=app, window=window)
    context = {**_context(request, app, form, can_edit), "window": window}
    if request.method == "POST":
        editable = ApprovalWindow.objects.editable_by(request.user).filter(pk=window.pk).first()
        if editable is None:
            return render(request, "jit/window_form.html", context, status=403)
        if request.POST.get("action") == "delete":
            return _deleted(request, app, editable)
        if form.is_valid():
            return _saved(request, app, form, editable)
    return render(request, "jit/window_form.html", context)


@recent_sign_in_required
def _saved(
    request: AuthedRequest,
    app: ManagedApplication,
    form: ApprovalWindowForm,
    window: ApprovalWindow | None,
) -> HttpResponse:
    saved = window_services.approval_window_save(
        application=app, by=request.user, window=window, **form.cleaned_data
    )
    upcoming = windows.next_slot(saved, timezone.now()) if saved.enabled else None
    if upcoming is not None:
        span = local_span(upcoming.starts_at, upcoming.ends_at, saved.time_zone)
        messages.success(request, f"Window saved. Next: {span}. It acts as you.")
    else:
        messages.success(request, "Window saved; it is disabled and opens nothing.")
    return redirect("jit:windows", app_pk=app.pk)


@recent_sign_in_required
def _deleted(
    request: AuthedRequest, app: ManagedApplication, window: ApprovalWindow
) -> HttpResponse:
    window_services.approval_window_delete(window=window, by=request.user)
    messages.success(request, "Window deleted. If it was open, manual approval is being restored.")
    return redirect("jit:windows", app_pk=app.pk)


def _context(
    request: AuthedRequest, app: ManagedApplication, form: ApprovalWindowForm, can_edit: bool
) -> dict[str, Any]:
    now = timezone.now()
    schedule = [
        (window, windows.next_slot(window, now) if window.enabled else None)
        for window in ApprovalWindow.objects.visible_to(request.user)
        .filter(application=app)
        .select_related("acts_as")
    ]
    history = (
        ApprovalWindowOccurrence.objects.visible_to(request.user)
        .filter(application=app, starts_at__lte=now)
        .select_related("window")
        .order_by("-starts_at")[:10]
    )
    return {
        "app": app,
        "form": form,
        "can_edit": can_edit,
        "schedule": [
            (w, local_span(s.starts_at, s.ends_at, w.time_zone) if s else "") for w, s in schedule
        ],
        "history": [(o, local_span(o.starts_at, o.ends_at, o.window.time_zone)) for o in history],
        "next_window": next_window(app, now),
        "notice_hours": settings.APPROVAL_WINDOW_NOTICE_HOURS,
        "window_banners": banners(ManagedApplication.objects.filter(pk=app.pk), now),
    }
