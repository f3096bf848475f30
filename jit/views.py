"""JIT pages: the requests list and inbox, a request with its decision, the publisher's request
form, the policy editor, the audit trail and its CSV.

Every view starts from a scoped queryset, so another tenant's object answers 404; every change is
a POST that records the action and returns at once, and the status fragment polls until ARM
confirms.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import scoping
from accounts.decorators import portal_access_required, recent_sign_in_required
from accounts.models import Tenant
from deployments.models import ManagedApplication
from jit import batch, hints, mirror, selectors, services, window_display
from jit.csv_export import csv_download
from jit.errors import NotAllowed
from jit.forms import (
    AuditFilterForm,
    BatchDecisionForm,
    DecisionForm,
    ElevationForm,
    PolicyForm,
    RequestListForm,
    RevokeForm,
)
from jit.models import JitRequest, State
from portal import rate_limits
from portal.pagination import CappedPaginator
from portal.types import AuthedRequest

MENU_LIMIT = 15


def _visible(request: AuthedRequest, pk: UUID) -> JitRequest:
    return get_object_or_404(
        JitRequest.objects.visible_to(request.user).select_related(
            "application", "application__customer_tenant", "application__offer"
        ),
        pk=pk,
    )


def _status(
    request: AuthedRequest, jit: JitRequest, status: int = 200, **extra: Any
) -> HttpResponse:
    """The status card, with the history and activity sections swapped in out of band: a poll
    that sees Azure's answer updates every part of the page that depends on it."""
    context = {
        **selectors.request_page(jit, request.user),
        "form": DecisionForm(),
        "oob": True,
        **extra,
    }
    return render(request, "jit/partials/request_status.html", context, status=status)


@portal_access_required
@require_GET
def requests(request: AuthedRequest) -> HttpResponse:
    return render(request, "jit/request_list.html", list_context(request))


def list_context(request: AuthedRequest, **extra: Any) -> dict[str, Any]:
    """The requests list, with the inbox of requests to decide (also re-rendered by a refused
    batch decision, `jit.batch_views`)."""
    form = RequestListForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = selectors.request_rows(
        request.user,
        customer=filters.get("customer", ""),
        state=filters.get("state", ""),
        requester=filters.get("requester", ""),
    )
    groups, total = batch.inbox_groups(request.user)
    request.inbox_total = total  # type: ignore[attr-defined]  # the navigation's badge
    return {
        "form": form,
        "page": CappedPaginator(rows, 25).get_page(request.GET.get("page")),
        "inbox_groups": groups,
        "inbox_total": total,
        "inbox_shown": sum(len(group.rows) for group in groups),
        "batch_form": BatchDecisionForm(),
        "handoff_inbox": any(
            row.jit.application.customer_tenant.approval_channel != Tenant.ApprovalChannel.PIM
            for group in groups
            for row in group.rows
        ),
        # A menu of apps only while it stays short; a large fleet is reached through Customers.
        "requestable": selectors.requestable_menu(request.user, MENU_LIMIT),
        "menu_limit": MENU_LIMIT,
        "policy_apps": selectors.policy_apps(request.user).filter(jit_enabled=True),
        "freshness": selectors.requests_freshness(mirror.publisher_scope()),
        "window_banners": window_display.banners(selectors.policy_apps(request.user)),
        **extra,
    }


@portal_access_required
@require_GET
def request_detail(request: AuthedRequest, pk: UUID) -> HttpResponse:
    jit = _visible(request, pk)
    context = {
        **selectors.request_page(jit, request.user),
        "form": DecisionForm(),
        "past": selectors.past_elevations(jit),
        "hints": hints.request_hints(jit),
        "window_banners": window_display.banners(
            selectors.policy_apps(request.user).filter(pk=jit.application_id),
            pending_since=jit.created_at if jit.state == State.PENDING else None,
        ),
    }
    return render(request, "jit/request_detail.html", context)


@portal_access_required
@require_GET
def request_status(request: AuthedRequest, pk: UUID) -> HttpResponse:
    """The status fragment; it polls itself while an action is being submitted to Azure."""
    return _status(request, _visible(request, pk))


@portal_access_required
@recent_sign_in_required
@require_POST
@rate_limits.limit("actions", key="user_or_ip")
def decide(request: AuthedRequest, pk: UUID) -> HttpResponse:
    jit = _visible(request, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _status(request, jit, status=400, form=form)
    try:
        services.jit_request_decide(
            jit_request=jit,
            by=request.user,
            approve=form.approve,
            justification=form.cleaned_data["justification"],
        )
    except NotAllowed as exc:
        return _status(request, jit, status=403, refusal=str(exc))
    return _after_action(request, jit)


@portal_access_required
@recent_sign_in_required
@require_POST
@rate_limits.limit("actions", key="user_or_ip")
def cancel(request: AuthedRequest, pk: UUID) -> HttpResponse:
    jit = _visible(request, pk)
    try:
        services.jit_request_cancel(jit_request=jit, by=request.user)
    except NotAllowed as exc:
        return _status(request, jit, status=403, refusal=str(exc))
    return _after_action(request, jit)


@portal_access_required
@recent_sign_in_required
@require_POST
@rate_limits.limit("actions", key="user_or_ip")
def revoke(request: AuthedRequest, pk: UUID) -> HttpResponse:
    jit = _visible(request, pk)
    form = RevokeForm(request.POST)
    if not form.is_valid():  # the reason goes into the audit trail: refuse it, never drop it
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _status(request, jit, status=400, refusal=f"Not revoked: {problems}")
    try:
        services.jit_request_revoke(
            jit_request=jit, by=request.user, reason=form.cleaned_data["reason"]
        )
    except NotAllowed as exc:
        return _status(request, jit, status=403, refusal=str(exc))
    return _after_action(request, jit)


def _after_action(request: AuthedRequest, jit: JitRequest) -> HttpResponse:
    jit.refresh_from_db()  # a fast worker may already have applied ARM's answer
    if request.htmx:
        return _status(request, jit)
    return redirect("jit:request_detail", pk=jit.pk)


@portal_access_required
@recent_sign_in_required
@require_http_methods(["GET", "POST"])
@rate_limits.limit("actions", key="user_or_ip", methods=("POST",))
def request_new(request: AuthedRequest, app_pk: int) -> HttpResponse:
    app = get_object_or_404(selectors.requestable_apps(request.user), pk=app_pk)
    roles = services.eligible_roles(application=app, user=request.user)
    form = ElevationForm(request.POST or None, roles=roles, maximum=app.jit_maximum_duration)
    if request.method == "POST" and roles and form.is_valid():
        jit = services.jit_request_create(
            application=app,
            by=request.user,
            role=form.chosen_role,
            start=form.start,
            duration=form.duration,
            justification=form.cleaned_data["justification"],
            ticket_reference=form.cleaned_data["ticket_reference"],
        )
        return redirect("jit:request_detail", pk=jit.pk)
    return render(request, "jit/request_form.html", {"app": app, "form": form, "roles": roles})


@portal_access_required
@require_http_methods(["GET", "POST"])
@rate_limits.limit("actions", key="user_or_ip", methods=("POST",))
def policy(request: AuthedRequest, app_pk: int) -> HttpResponse:
    app = get_object_or_404(selectors.policy_apps(request.user), pk=app_pk)
    can_edit = (
        app.jit_enabled
        and scoping.administered_tenants_of(request.user).filter(pk=app.customer_tenant_id).exists()
    )
    candidates = selectors.approver_candidates(app)
    switched = window_display.switched_occurrence(app)
    mode = switched.previous_approval_mode if switched else app.jit_approval_mode
    initial = {
        # While a window has switched the mode, the form offers the mode it would restore:
        # saving it unchanged must not make the window's automatic approval permanent.
        "approval_mode": mode if mode != "NotSpecified" else "AutoApprove",
        "approvers": [str(a.get("id", "")).lower() for a in app.jit_approvers or []],
        "maximum_hours": int(app.jit_maximum_duration.total_seconds() // 3600)
        if app.jit_maximum_duration
        else 8,
    }
    form = PolicyForm(
        request.POST if request.method == "POST" else None,
        candidates=candidates,
        initial=initial,
    )
    if request.method == "POST":
        if not can_edit:
            return render(
                request, "jit/policy_form.html", _policy_context(app, form, False), status=403
            )
        if form.is_valid():
            return _policy_submitted(request, app, form)
    return render(request, "jit/policy_form.html", _policy_context(app, form, can_edit))


@recent_sign_in_required
def _policy_submitted(request: AuthedRequest, app: Any, form: PolicyForm) -> HttpResponse:
    services.jit_policy_update(
        application=app,
        by=request.user,
        policy=form.policy(),
        reason=form.cleaned_data["reason"],
    )
    messages.info(request, "Policy change recorded; it is being written to Azure.")
    return redirect("jit:policy", app_pk=app.pk)


def _policy_context(app: Any, form: PolicyForm, can_edit: bool) -> dict[str, Any]:
    from jit.models import Operation

    operations = Operation.objects.filter(application=app, kind=Operation.Kind.POLICY)
    latest = operations.order_by("-created_at").first()
    now = timezone.now()
    upcoming = window_display.next_window(app, now)
    return {
        "app": app,
        "form": form,
        "can_edit": can_edit,
        # A window's own switch that failed is told by its banner, with what to do.
        "operation": None
        if latest and latest.status == "failed" and window_display.is_window_operation(latest)
        else latest,
        "next_window": upcoming,
        "open_window": upcoming
        if upcoming and upcoming.under_way and window_display.switched_occurrence(app)
        else None,
        "window_banners": window_display.banners(ManagedApplication.objects.filter(pk=app.pk), now),
    }


@portal_access_required
@require_GET
def audit(request: AuthedRequest) -> HttpResponse:
    form, rows = _audit_rows(request)
    page = CappedPaginator(rows, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "filtered": form.is_valid() and any(form.cleaned_data.values()),
    }
    return render(request, "jit/audit_list.html", context)


@portal_access_required
@require_GET
def audit_csv(request: AuthedRequest) -> StreamingHttpResponse:
    _, rows = _audit_rows(request)
    header = ["time (UTC)", "event", "who", "customer", "application", "request", "reason",
              "before", "after"]  # fmt: skip
    lines = (
        [
            e.at.isoformat(),
            e.get_action_display(),
            e.actor_name,
            str(e.tenant),
            e.application.name,
            e.jit_request.name if e.jit_request else "",
            e.reason,
            str(e.before or ""),
            str(e.after or ""),
        ]
        for e in rows.iterator()
    )
    return csv_download("jit-audit.csv", header, lines)


def _audit_rows(request: AuthedRequest) -> tuple[AuditFilterForm, Any]:
    form = AuditFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = selectors.audit_rows(
        request.user,
        application=filters.get("application", ""),
        tenant=filters.get("tenant", ""),
        action=filters.get("action", ""),
    )
    return form, rows
