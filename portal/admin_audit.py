"""The record of what operators did with the admin's actions: Django's own admin log.

Each action calls `log_action` once with the objects it changed, so the "Operator actions" page
(portal/admin.py) shows one entry per object, by whom and when.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import Model
from django.http import HttpRequest


def log_action(request: HttpRequest, objects: Iterable[Model], description: str) -> int:
    """Write one admin log entry per object, "Action: <description>"; returns how many."""
    affected = list(objects)
    if not affected or request.user.pk is None:
        return 0
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=affected,
        action_flag=CHANGE,
        change_message=f"Action: {description}",
    )
    return len(affected)
