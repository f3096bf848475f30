"""An admin for records nobody adds, edits or deletes by hand (the audit trail, the admin's own
log, stored credentials): listed and opened read-only, actions still allowed."""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

_Record = TypeVar("_Record", bound=Model)


class ReadOnlyAdmin(admin.ModelAdmin[_Record]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
