"""The operations dashboard page; staff only (wrapped in admin.site.admin_view in portal/urls.py)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.operations import charts, status


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    board = status.dashboard()
    sync_hours = [h.hour for h in board.sync.hours]
    intake_hours = [h.hour for h in board.intake.hours]
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        "board": board,
        "durations_chart": charts.line_chart(
            "Median and longest successful sync per hour, last 7 days",
            sync_hours,
            [
                ("ops-max", "longest", [h.max_seconds for h in board.sync.hours]),
                ("ops-median", "median", [h.median_seconds for h in board.sync.hours]),
            ],
        ),
        "failures_chart": charts.bar_chart(
            "Failed syncs per hour, last 7 days",
            sync_hours,
            [h.failed for h in board.sync.hours],
            noun="failed",
        ),
        "throttled_chart": charts.bar_chart(
            "429 answers from ARM per hour during syncs, last 7 days",
            sync_hours,
            [h.throttled for h in board.sync.hours],
            noun="429s",
        ),
        "events_chart": charts.bar_chart(
            "Marketplace notifications kept per hour, last 48 hours",
            intake_hours,
            [h.events for h in board.intake.hours],
            noun="notifications",
        ),
        "rejections_chart": charts.bar_chart(
            "Webhook requests refused per hour, last 48 hours",
            intake_hours,
            [h.rejections for h in board.intake.hours],
            noun="refused",
        ),
    }
    return render(request, "admin/operations.html", context)
