from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from jit.models import AuditEvent, ElevationActivity, JitRequest, Operation


@admin.register(JitRequest)
class JitRequestAdmin(admin.ModelAdmin[JitRequest]):
    list_display = ("name", "application", "requester_name", "role_name", "state", "created_at")
    list_filter = ("state",)
    list_select_related = ("application",)
    search_fields = ("name", "arm_id", "requester_name", "application__name")
    readonly_fields = tuple(f.name for f in JitRequest._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin[Operation]):
    list_display = ("kind", "application", "jit_request", "by", "status", "attempts", "created_at")
    list_filter = ("kind", "status")
    list_select_related = ("application", "jit_request", "by")
    readonly_fields = tuple(f.name for f in Operation._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """The audit trail is append-only: viewable here, never added, edited or deleted."""

    list_display = ("at", "action", "actor_name", "tenant", "application", "jit_request")
    list_filter = ("action", "tenant")
    list_select_related = ("tenant", "application", "jit_request")
    search_fields = ("actor_name", "reason", "application__name", "jit_request__name")
    readonly_fields = tuple(f.name for f in AuditEvent._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ElevationActivity)
class ElevationActivityAdmin(admin.ModelAdmin[ElevationActivity]):
    list_display = ("at", "operation", "status", "caller", "jit_request")
    list_select_related = ("jit_request",)
    readonly_fields = tuple(f.name for f in ElevationActivity._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
