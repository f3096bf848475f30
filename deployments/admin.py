from typing import Any, TypeVar

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from deployments import admin_services
from deployments.models import (
    Elevation,
    ManagedApplication,
    ManagedResource,
    MarketplaceEvent,
    Offer,
    PermissionChangeEvent,
    PermissionSnapshot,
    RoleDefinition,
    Subscription,
    SyncRun,
)
from portal.admin_audit import log_action

_Mirrored = TypeVar("_Mirrored", bound=Model)


class MirroredAdmin(admin.ModelAdmin[_Mirrored]):
    """Rows mirrored from ARM: readable and searchable, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Offer)
class OfferAdmin(MirroredAdmin[Offer]):
    list_display = (
        "__str__",
        "kind",
        "publisher_tenant",
        "plan",
        "version",
        "lock_level",
        "jit_offered",
        "first_seen_at",
    )
    list_filter = ("kind", "lock_level", "jit_offered", "publisher_tenant")
    search_fields = ("display_name", "plan", "product", "key", "definition_arm_id")
    list_select_related = ("publisher_tenant",)


@admin.register(ManagedApplication)
class ManagedApplicationAdmin(MirroredAdmin[ManagedApplication]):
    list_display = (
        "name",
        "customer_tenant",
        "offer",
        "subscription_id",
        "provisioning_state",
        "jit_enabled",
        "jit_approval_mode",
        "first_seen_at",
        "vanished_at",
    )
    list_filter = (
        "provisioning_state",
        "jit_enabled",
        "jit_approval_mode",
        ("vanished_at", admin.EmptyFieldListFilter),
        "customer_tenant",
    )
    search_fields = ("name", "arm_id", "subscription_id", "customer_tenant__display_name")
    list_select_related = ("customer_tenant", "offer")


@admin.register(ManagedResource)
class ManagedResourceAdmin(MirroredAdmin[ManagedResource]):
    list_display = ("name", "type", "location", "application", "first_seen_at", "vanished_at")
    list_filter = ("type", ("vanished_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "arm_id", "application__name")
    list_select_related = ("application",)


@admin.register(SyncRun)
class SyncRunAdmin(MirroredAdmin[SyncRun]):
    list_display = (
        "tenant",
        "application_arm_id",
        "state",
        "queued_at",
        "finished_at",
        "calls_made",
        "rows_created",
        "rows_updated",
        "rows_removed",
        "error_snippet",
    )
    list_filter = ("state", "tenant")
    search_fields = ("tenant__display_name", "application_arm_id", "error")
    list_select_related = ("tenant",)
    date_hierarchy = "queued_at"

    @admin.display(description="error")
    def error_snippet(self, run: SyncRun) -> str:
        return run.error[:120] + ("…" if len(run.error) > 120 else "")


@admin.register(Subscription)
class SubscriptionAdmin(MirroredAdmin[Subscription]):
    list_display = ("subscription_id", "display_name", "tenant", "state", "vanished_at")
    list_filter = ("state", ("vanished_at", admin.EmptyFieldListFilter), "tenant")
    search_fields = ("subscription_id", "display_name", "tenant__display_name")
    list_select_related = ("tenant",)


@admin.register(MarketplaceEvent)
class MarketplaceEventAdmin(MirroredAdmin[MarketplaceEvent]):
    list_display = (
        "received_at",
        "event_type",
        "provisioning_state",
        "application_arm_id",
        "customer_tenant",
        "outcome",
        "event_time",
    )
    list_filter = ("event_type", "provisioning_state", "outcome", "customer_tenant")
    search_fields = ("application_arm_id", "customer_tenant__display_name")
    list_select_related = ("customer_tenant",)
    date_hierarchy = "received_at"


@admin.register(RoleDefinition)
class RoleDefinitionAdmin(MirroredAdmin[RoleDefinition]):
    list_display = ("name", "guid", "role_type", "refreshed_at")
    list_filter = ("role_type",)
    search_fields = ("name", "guid", "description")


@admin.register(PermissionSnapshot)
class PermissionSnapshotAdmin(MirroredAdmin[PermissionSnapshot]):
    list_display = ("application", "customer_tenant", "changed_at", "first_seen_at")
    list_filter = ("application__customer_tenant",)
    search_fields = ("application__name", "application__arm_id")
    list_select_related = ("application", "application__customer_tenant")

    @admin.display(description="customer tenant", ordering="application__customer_tenant")
    def customer_tenant(self, snapshot: PermissionSnapshot) -> str:
        return str(snapshot.application.customer_tenant)


@admin.register(Elevation)
class ElevationAdmin(MirroredAdmin[Elevation]):
    list_display = ("application", "principal_id", "role_definition_id", "state", "start", "end")
    list_filter = ("state",)
    search_fields = ("arm_id", "principal_id", "application__name")
    list_select_related = ("application",)
    date_hierarchy = "start"


@admin.register(PermissionChangeEvent)
class PermissionChangeEventAdmin(MirroredAdmin[PermissionChangeEvent]):
    list_display = ("at", "application", "customer_tenant", "aspect_list", "mailed_at")
    list_filter = (("mailed_at", admin.EmptyFieldListFilter), "customer_tenant")
    search_fields = ("application__name", "customer_tenant__display_name")
    list_select_related = ("application", "customer_tenant")
    date_hierarchy = "at"
    actions = ("send_mail_again",)

    @admin.display(description="what changed")
    def aspect_list(self, event: PermissionChangeEvent) -> str:
        return ", ".join(str(aspect) for aspect in event.aspects)

    def has_send_mail_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("deployments.change_permissionchangeevent")

    @admin.action(
        description="E-mail the selected changes to the customer admins again",
        permissions=("send_mail",),
    )
    def send_mail_again(
        self, request: HttpRequest, queryset: QuerySet[PermissionChangeEvent]
    ) -> None:
        outcome = admin_services.permission_change_mails_send_again(queryset)
        log_action(request, outcome.sent, "Send permission change mail again")
        text = f"Sent {outcome.messages} message(s) about {len(outcome.sent)} change(s)."
        if outcome.nobody_to_mail:
            text += (
                f" Skipped {len(outcome.nobody_to_mail)}: the customer tenant has no allowed "
                "admin with an e-mail address."
            )
        if outcome.failed:
            text += (
                f" {len(outcome.failed)} could not be sent (the mail server refused); they are "
                "tried again within five minutes."
            )
        level = messages.WARNING if outcome.failed else messages.SUCCESS
        self.message_user(request, text, level)
