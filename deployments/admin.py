from typing import Any, TypeVar

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from deployments.models import (
    ManagedApplication,
    ManagedResource,
    MarketplaceEvent,
    Offer,
    Subscription,
    SyncRun,
)

_Mirrored = TypeVar("_Mirrored", bound=Model)


class MirroredAdmin(admin.ModelAdmin[_Mirrored]):
    """Rows mirrored from ARM: readable and searchable, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Offer)
class OfferAdmin(MirroredAdmin[Offer]):
    list_display = ("__str__", "kind", "publisher_tenant", "lock_level", "jit_offered")
    list_filter = ("kind", "lock_level", "jit_offered")
    search_fields = ("display_name", "plan", "product", "key")
    list_select_related = ("publisher_tenant",)


@admin.register(ManagedApplication)
class ManagedApplicationAdmin(MirroredAdmin[ManagedApplication]):
    list_display = (
        "name",
        "customer_tenant",
        "offer",
        "provisioning_state",
        "jit_enabled",
    )
    list_filter = ("provisioning_state", "jit_enabled", "jit_approval_mode", "customer_tenant")
    search_fields = ("name", "arm_id", "customer_tenant__display_name")
    list_select_related = ("customer_tenant", "offer")


@admin.register(ManagedResource)
class ManagedResourceAdmin(MirroredAdmin[ManagedResource]):
    list_display = ("name", "type", "location", "application")
    list_filter = ("type",)
    search_fields = ("name", "arm_id")
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
    )
    list_filter = ("state",)
    list_select_related = ("tenant",)


@admin.register(Subscription)
class SubscriptionAdmin(MirroredAdmin[Subscription]):
    list_display = ("subscription_id", "display_name", "tenant", "state", "vanished_at")
    search_fields = ("subscription_id", "display_name")
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
    )
    list_filter = ("event_type", "provisioning_state", "outcome")
    search_fields = ("application_arm_id",)
    list_select_related = ("customer_tenant",)
