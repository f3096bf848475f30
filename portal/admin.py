"""The admin's own log, shown read-only as "Operator actions"."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.http import HttpRequest, HttpResponse

from portal.read_only_admin import ReadOnlyAdmin


@admin.register(LogEntry)
class OperatorActionAdmin(ReadOnlyAdmin[LogEntry]):
    """What operators did in the admin (edits and actions): nobody adds, edits or deletes it."""

    list_display = ("action_time", "user", "content_type", "object_repr", "action_flag", "message")
    list_filter = ("action_flag", "content_type", "user")
    list_select_related = ("user", "content_type")
    search_fields = ("object_repr", "change_message", "user__username", "user__display_name")
    date_hierarchy = "action_time"
    readonly_fields = tuple(f.name for f in LogEntry._meta.fields)
    actions = None

    @admin.display(description="what was done")
    def message(self, entry: LogEntry) -> str:
        return entry.get_change_message()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().changelist_view(
            request, {"title": "Operator actions", **(extra_context or {})}
        )
