"""The elevation report's page, CSV and PDF (figures in jit/report.py, the PDF in
jit/report_pdf.py). Every figure comes from `JitRequest.objects.visible_to(user)`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts import scoping
from accounts.decorators import portal_access_required
from deployments.models import ManagedApplication
from jit import report as figures
from jit.csv_export import csv_download
from jit.report_chart import stacked_hours
from jit.report_pdf import report_pdf
from portal.types import AuthedRequest

CSV_HEADER = [
    "month", "customer", "customer tenant id", "application", "request", "requested at (UTC)",
    "elevated principal", "role", "justification", "ticket", "state", "outcome", "approval",
    "decision reason", "granted from (UTC)", "granted until (UTC)", "hours in month",
    "changes (writes and deletes)", "deletes",
]  # fmt: skip


def _parse(request: AuthedRequest) -> tuple[figures.Month, figures.Filters]:
    month = figures.Month.parse(request.GET.get("month"))
    filters = figures.Filters.parse(request.GET.get("tenant"), request.GET.get("app"))
    return month, filters


def _refused(request: AuthedRequest, exc: figures.BadParameter) -> HttpResponse:
    return render(request, "jit/report_refused.html", {"reason": str(exc)}, status=400)


def _scope_name(request: AuthedRequest, report: figures.Report) -> str:
    """Whose report it is, for titles and file names."""
    if report.filters.tenant:
        named = [c.name for c in report.customers]
        return (
            ", ".join(named)
            if named
            else f"no customer of yours matching “{report.filters.tenant}”"
        )
    publishers = list(
        scoping.publisher_tenants_of(request.user).values_list("display_name", flat=True)
    )
    if publishers:
        return f"customers of {', '.join(publishers)}"
    return ", ".join(
        scoping.customer_tenants_of(request.user).values_list("display_name", flat=True)
    )


@portal_access_required
@require_GET
def report(request: AuthedRequest) -> HttpResponse:
    try:
        month, filters = _parse(request)
    except figures.BadParameter as exc:
        return _refused(request, exc)
    data = figures.elevation_report(request.user, month, filters)
    apps = ManagedApplication.objects.visible_to(request.user).filter(jit_enabled=True)
    if filters.tenant:
        apps = apps.filter(scoping.tenant_named(filters.tenant, "customer_tenant__"))
    context: dict[str, Any] = {
        "report": data,
        "scope": _scope_name(request, data),
        "chart": stacked_hours(
            f"Hours of elevated access per week by role, {month.label}",
            data.weeks, data.roles, data.hours_by_week,
        ),
        "apps": list(apps.select_related("customer_tenant").order_by("name")[:50]),
        "is_publisher": scoping.publisher_tenants_of(request.user).exists(),
        "query": _query(filters),
        "current": figures.Month.parse(None),
    }  # fmt: skip
    return render(request, "jit/report.html", context)


def _query(filters: figures.Filters) -> str:
    """The filters as query-string pairs, to keep across the month links and the downloads."""
    pairs: dict[str, str | int] = {}
    if filters.tenant:
        pairs["tenant"] = filters.tenant
    if filters.application is not None:
        pairs["app"] = filters.application
    return urlencode(pairs)


def _filename(report: figures.Report, extension: str) -> str:
    return f"elevation-report-{report.month.param}.{extension}"


@portal_access_required
@require_GET
def report_csv(request: AuthedRequest) -> HttpResponse | StreamingHttpResponse:
    try:
        month, filters = _parse(request)
    except figures.BadParameter as exc:
        return _refused(request, exc)
    data = figures.elevation_report(request.user, month, filters)
    rows = (
        [
            month.param,
            e.customer,
            str(e.jit.application.customer_tenant.entra_tenant_id),
            e.application,
            e.jit.name,
            e.jit.created_at.isoformat(),
            e.who,
            e.jit.role_name,
            e.jit.justification,
            e.jit.ticket_reference,
            e.jit.get_state_display(),
            e.outcome,
            e.approval,
            e.jit.decision_reason or e.jit.handoff_reason,
            e.began.isoformat() if e.began else "",
            e.ended.isoformat() if e.ended else "",
            f"{e.hours:.2f}",
            e.changes,
            e.deletes,
        ]
        for e in data.elevations
    )
    return csv_download(_filename(data, "csv"), CSV_HEADER, rows)


@portal_access_required
@require_GET
def report_pdf_download(request: AuthedRequest) -> HttpResponse:
    try:
        month, filters = _parse(request)
    except figures.BadParameter as exc:
        return _refused(request, exc)
    data = figures.elevation_report(request.user, month, filters)
    response = HttpResponse(
        report_pdf(data, scope=_scope_name(request, data)), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename(data, "pdf")}"'
    return response
