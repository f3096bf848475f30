from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Membership, Side, Tenant, User


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
    list_display = (
        "__str__",
        "entra_tenant_id",
        "side",
        "state",
        "has_entra_p2",
        "approval_channel",
        "created_at",
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
    actions = ("allow", "block", "sync_now")

    @admin.action(description="Allow the selected tenants")
    def allow(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        changed = queryset.update(state=Tenant.State.ALLOWED)
        self.message_user(request, f"{changed} tenant(s) allowed.", messages.SUCCESS)

    @admin.action(description="Sync the selected tenants from Azure now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        from deployments.runs import queue_tenant_sync

        eligible = queryset.filter(side=Side.CUSTOMER, state=Tenant.State.ALLOWED)
        runs = [queue_tenant_sync(tenant=tenant) for tenant in eligible]
        skipped = queryset.count() - len(runs)
        self.message_user(
            request,
            f"Queued a sync of {len(runs)} tenant(s)."
            + (f" Skipped {skipped}: only allowed customer tenants are synced." if skipped else ""),
            messages.SUCCESS,
        )

    @admin.action(description="Block the selected tenants")
    def block(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        changed = queryset.update(state=Tenant.State.BLOCKED)
        self.message_user(request, f"{changed} tenant(s) blocked.", messages.WARNING)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("user", "tenant", "role", "granted_at")
    list_filter = ("role", "tenant__side", "tenant__state")
    search_fields = ("user__display_name", "user__email", "tenant__display_name")
    list_select_related = ("user", "tenant")
    autocomplete_fields = ("user", "tenant")
