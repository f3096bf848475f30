from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from jit import admin_services
from jit.models import (
    ApprovalWindow,
    ApprovalWindowOccurrence,
    AuditEvent,
    ElevationActivity,
    JitRequest,
    Operation,
    ScopeListing,
)
from portal.admin_audit import log_action
from portal.read_only_admin import ReadOnlyAdmin


def _skipped(outcome: admin_services.Outcome) -> str:
    return "".join(f" Skipped #{obj.pk} ({obj}): {reason}." for obj, reason in outcome.skipped)


@admin.register(JitRequest)
class JitRequestAdmin(admin.ModelAdmin[JitRequest]):
    list_display = (
        "name",
        "application",
        "requester_name",
        "role_name",
        "state",
        "start",
        "duration",
        "created_at",
    )
    list_filter = ("state", "application__customer_tenant")
    list_select_related = ("application",)
    search_fields = ("name", "arm_id", "requester_name", "principal_id", "application__name")
    readonly_fields = tuple(f.name for f in JitRequest._meta.fields)
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin[Operation]):
    list_display = (
        "kind",
        "application",
        "jit_request",
        "by",
        "status",
        "attempts",
        "error_code",
        "created_at",
        "finished_at",
    )
    list_filter = ("kind", "status", "error_code")
    list_select_related = ("application", "jit_request", "jit_request__application", "by")
    search_fields = ("application__name", "jit_request__name", "by__display_name", "error_code")
    readonly_fields = tuple(f.name for f in Operation._meta.fields)
    date_hierarchy = "created_at"
    actions = ("retry",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(
        description="Submit the selected failed operations to Azure again",
        permissions=("change",),
    )
    def retry(self, request: HttpRequest, queryset: QuerySet[Operation]) -> None:
        outcome = admin_services.operations_retry(queryset)
        log_action(request, outcome.done, "Retry failed operation")
        self.message_user(
            request,
            f"Queued {len(outcome.done)} operation(s) again." + _skipped(outcome),
            messages.WARNING if outcome.skipped else messages.SUCCESS,
        )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin[AuditEvent]):
    """The audit trail is append-only: viewable here, never added, edited or deleted."""

    list_display = ("at", "action", "actor_name", "tenant", "application", "jit_request")
    list_filter = ("action", "tenant")
    list_select_related = ("tenant", "application", "jit_request", "jit_request__application")
    search_fields = ("actor_name", "reason", "application__name", "jit_request__name")
    readonly_fields = tuple(f.name for f in AuditEvent._meta.fields)
    date_hierarchy = "at"
    actions = ("send_mails_again",)

    def has_send_mail_permission(self, request: HttpRequest) -> bool:
        # Nobody changes an event; the permission only says who may have its mails sent again.
        return request.user.has_perm("jit.change_auditevent")

    @admin.action(
        description="Send the e-mails of the selected events again",
        permissions=("send_mail",),
    )
    def send_mails_again(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> None:
        outcome = admin_services.audit_events_notify_again(queryset)
        log_action(request, outcome.done, "Send audit event mails again")
        self.message_user(
            request,
            f"Queued the e-mails of {len(outcome.done)} event(s)." + _skipped(outcome),
            messages.WARNING if outcome.skipped else messages.SUCCESS,
        )


@admin.register(ElevationActivity)
class ElevationActivityAdmin(admin.ModelAdmin[ElevationActivity]):
    list_display = ("at", "operation", "status", "caller", "resource_id", "jit_request")
    list_filter = ("status",)
    list_select_related = ("jit_request", "jit_request__application")
    search_fields = ("operation", "caller", "resource_id", "jit_request__name")
    readonly_fields = tuple(f.name for f in ElevationActivity._meta.fields)
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ScopeListing)
class ScopeListingAdmin(ReadOnlyAdmin[ScopeListing]):
    """When each JIT scope was last listed in full (the age the requests page shows)."""

    list_display = ("scope", "listed_at", "requests_listed")


@admin.register(ApprovalWindow)
class ApprovalWindowAdmin(ReadOnlyAdmin[ApprovalWindow]):
    """Customer admins set windows up on the policy page (they act with their own sign-in);
    operators read them here."""

    list_display = (
        "application",
        "days_label",
        "start_time",
        "end_time",
        "time_zone",
        "enabled",
        "acts_as",
        "created_by",
        "deleted_at",
    )
    list_filter = ("enabled", "time_zone", "application__customer_tenant")
    list_select_related = ("application", "acts_as", "created_by")
    search_fields = ("application__name", "acts_as__display_name", "created_by__display_name")
    readonly_fields = tuple(f.name for f in ApprovalWindow._meta.fields)


@admin.register(ApprovalWindowOccurrence)
class ApprovalWindowOccurrenceAdmin(ReadOnlyAdmin[ApprovalWindowOccurrence]):
    list_display = (
        "application",
        "starts_at",
        "ends_at",
        "state",
        "failed_step",
        "previous_approval_mode",
        "opened_as",
        "restore_attempts",
        "retry_restore_at",
    )
    list_filter = ("state", "failed_step", "application__customer_tenant")
    list_select_related = ("application", "opened_as", "window")
    search_fields = ("application__name", "note")
    readonly_fields = tuple(f.name for f in ApprovalWindowOccurrence._meta.fields)
    date_hierarchy = "starts_at"
