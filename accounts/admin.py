from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import truncatechars

from accounts import services
from accounts.models import EntraCredential, Membership, Side, Tenant, User
from portal.admin_audit import log_action
from portal.read_only_admin import ReadOnlyAdmin


class MembershipInline(admin.TabularInline[Membership, User]):
    model = Membership
    extra = 0
    autocomplete_fields = ("tenant",)
    readonly_fields = ("granted_at",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    list_display = ("__str__", "email", "entra_tenant_id", "is_staff", "is_active", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "memberships__role")
    search_fields = ("username", "display_name", "email", "entra_object_id", "entra_tenant_id")
    readonly_fields = ("entra_tenant_id", "entra_object_id", "last_login", "date_joined")
    inlines = (MembershipInline,)
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Entra ID", {"fields": ("display_name", "entra_tenant_id", "entra_object_id")}),
    )


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin[Tenant]):
    # What an operator scans for first (is its mirror fresh?) before what rarely changes; the
    # Entra tenant id is searchable and on the change page.
    list_display = (
        "__str__",
        "side",
        "state",
        "last_sync_at",
        "last_sync",
        "application_count",
        "has_entra_p2",
        "approval_channel",
    )
    list_filter = ("side", "state", "has_entra_p2", "approval_channel")
    search_fields = ("display_name", "entra_tenant_id")
    # The channel is what `manage.py check_azure --save-channels` proved, not a preference.
    readonly_fields = (
        "entra_tenant_id",
        "approval_channel",
        "approval_channel_checked_at",
        "created_at",
        "updated_at",
    )
    actions = ("allow", "block", "expire_sessions", "sync_now")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        from deployments.admin_services import tenants_with_sync_status

        return tenants_with_sync_status(super().get_queryset(request))

    @admin.display(description="last synced", ordering="last_sync_at")
    def last_sync_at(self, tenant: Tenant) -> dt.datetime | None:
        return getattr(tenant, "last_sync_at", None)

    @admin.display(description="last sync outcome", ordering="last_sync_state")
    def last_sync(self, tenant: Tenant) -> str:
        state = getattr(tenant, "last_sync_state", None)
        if state is None:
            return "—"
        error = getattr(tenant, "last_sync_error", "") or ""
        if state == "failed":
            return f"Failed: {truncatechars(error, 120)}" if error else "Failed"
        return "Succeeded"

    @admin.display(description="applications", ordering="application_count")
    def application_count(self, tenant: Tenant) -> int:
        return int(getattr(tenant, "application_count", 0))

    @admin.action(description="Allow the selected tenants", permissions=("change",))
    def allow(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        changed = services.tenants_allow(queryset)
        log_action(request, changed, "Allow tenant")
        skipped = queryset.count() - len(changed)
        self.message_user(
            request,
            f"{len(changed)} tenant(s) allowed."
            + (f" Skipped {skipped}: already allowed." if skipped else ""),
            messages.SUCCESS,
        )

    @admin.action(
        description="Block the selected tenants (and sign out their people)",
        permissions=("change",),
    )
    def block(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        blocked = services.tenants_block(queryset)
        log_action(request, blocked.tenants, "Block tenant")
        skipped = queryset.count() - len(blocked.tenants)
        self.message_user(
            request,
            f"{len(blocked.tenants)} tenant(s) blocked; {blocked.sessions_ended} session(s) "
            "ended of people who had access nowhere else."
            + (f" Skipped {skipped}: already blocked." if skipped else ""),
            messages.WARNING,
        )

    @admin.action(
        description="Sign out the people of the selected blocked tenants", permissions=("change",)
    )
    def expire_sessions(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        blocked = queryset.filter(state=Tenant.State.BLOCKED)
        ended = services.sessions_end_for_tenants(blocked)
        log_action(request, blocked, "Expire sessions of blocked tenant's people")
        skipped = queryset.count() - blocked.count()
        self.message_user(
            request,
            f"Ended {ended} session(s) of people of {blocked.count()} blocked tenant(s) who have "
            "access nowhere else."
            + (f" Skipped {skipped}: the tenant is not blocked." if skipped else ""),
            messages.SUCCESS,
        )

    @admin.action(description="Sync the selected tenants from Azure now", permissions=("change",))
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        from deployments.runs import queue_tenant_sync

        eligible = list(queryset.filter(side=Side.CUSTOMER, state=Tenant.State.ALLOWED))
        for tenant in eligible:
            queue_tenant_sync(tenant=tenant)
        log_action(request, eligible, "Sync tenant now")
        skipped = queryset.count() - len(eligible)
        self.message_user(
            request,
            f"Queued a sync of {len(eligible)} tenant(s)."
            + (f" Skipped {skipped}: only allowed customer tenants are synced." if skipped else ""),
            messages.SUCCESS,
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("user", "tenant", "role", "granted_at")
    list_filter = ("role", "tenant__side", "tenant__state")
    search_fields = ("user__display_name", "user__email", "tenant__display_name")
    list_select_related = ("user", "tenant")
    autocomplete_fields = ("user", "tenant")


@admin.register(EntraCredential)
class EntraCredentialAdmin(ReadOnlyAdmin[EntraCredential]):
    """Who has a stored Entra sign-in and until when its ARM token lasts. The token columns are
    never listed, shown or searched: the admin knows only these fields."""

    fields = ("user", "signed_in_at", "arm_token_expires_at", "updated_at")
    readonly_fields = fields
    list_display = fields
    list_select_related = ("user",)
    search_fields = ("user__username", "user__display_name", "user__email")
    list_filter = ("signed_in_at",)
    date_hierarchy = "signed_in_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[EntraCredential]:
        return super().get_queryset(request).defer("refresh_token_encrypted", "arm_token_encrypted")
