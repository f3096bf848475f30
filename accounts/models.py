from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

if TYPE_CHECKING:
    from collections.abc import Iterable


class Side(models.TextChoices):
    PUBLISHER = "publisher", "Publisher"
    CUSTOMER = "customer", "Customer"


class Role(models.TextChoices):
    """Entra app roles of the portal's app registration, as they appear in the ID token."""

    CUSTOMER_ADMIN = "Customer.Admin", "Customer admin"
    CUSTOMER_READER = "Customer.Reader", "Customer reader"
    PUBLISHER_ADMIN = "Publisher.Admin", "Publisher admin"
    PUBLISHER_SUPPORT = "Publisher.Support", "Publisher support"

    @classmethod
    def for_side(cls, side: str) -> list[Role]:
        return [role for role in cls if role.value.lower().startswith(side)]


ROLE_ABILITIES: dict[str, list[str]] = {
    Role.CUSTOMER_ADMIN: [
        "See your tenant's managed applications and what each publisher may do in them",
        "Change the just-in-time access policy of an application",
        "Approve or deny publisher elevation requests when you are a named approver",
        "Read the audit trail of every elevation",
    ],
    Role.CUSTOMER_READER: [
        "See your tenant's managed applications, permissions, requests and audit trail",
        "Change nothing",
    ],
    Role.PUBLISHER_ADMIN: [
        "See every customer tenant and managed application of your offers",
        "Request and cancel just-in-time elevation",
        "See the catalog of your offers and their permission models",
    ],
    Role.PUBLISHER_SUPPORT: [
        "See every customer tenant and managed application of your offers",
        "Request and cancel just-in-time elevation with a reason",
    ],
}

OPERATOR_ROLE = "Operator"


class Tenant(models.Model):
    """An Entra tenant that has signed in: the publisher's or a customer's."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending review"
        ALLOWED = "allowed", "Allowed"
        BLOCKED = "blocked", "Blocked"

    class P2(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"
        UNKNOWN = "unknown", "Unknown"

    class ApprovalChannel(models.TextChoices):
        # The customer records a decision here and makes it in the Azure portal; the portal
        # confirms it from ARM. Works everywhere, so it is the default.
        HANDOFF = "handoff", "Decide in the Azure portal (hand-off)"
        # The portal decides the PIM approval stage itself; only where check_azure found the
        # approval behind a JIT request on this tenant (azure-fidelity.md: an assumption).
        PIM = "pim", "Decide in the portal (PIM approval stage)"

    entra_tenant_id = models.UUIDField("Entra tenant id", unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    side = models.CharField(max_length=20, choices=Side.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    has_entra_p2 = models.CharField(
        "Entra ID P2", max_length=10, choices=P2.choices, default=P2.UNKNOWN
    )
    approval_channel = models.CharField(
        max_length=10, choices=ApprovalChannel.choices, default=ApprovalChannel.HANDOFF
    )
    approval_channel_checked_at = models.DateTimeField(
        "approval channel proven at", null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["display_name", "entra_tenant_id"]
        indexes: ClassVar = [
            # Customer lists sort by name without regard to case; with this index a page of
            # them is read in order instead of sorting every tenant.
            models.Index(Lower("display_name"), F("id"), name="tenant_name_lower_idx"),
        ]

    def __str__(self) -> str:
        return self.display_name or str(self.entra_tenant_id)

    @property
    def is_allowed(self) -> bool:
        return self.state == self.State.ALLOWED


class User(AbstractUser):
    """A person signed in to the portal.

    People from Entra ID are identified by (tenant id, object id), never by e-mail; operators
    created with createsuperuser sign in with a password and have neither.
    """

    entra_tenant_id = models.UUIDField("Entra tenant id", null=True, blank=True, editable=False)
    entra_object_id = models.UUIDField("Entra object id", null=True, blank=True, editable=False)
    display_name = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["entra_tenant_id", "entra_object_id"],
                condition=Q(entra_object_id__isnull=False),
                name="unique_entra_identity",
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.get_username()

    def get_full_name(self) -> str:
        return self.display_name or super().get_full_name()


class MembershipQuerySet(models.QuerySet["Membership"]):
    def usable(self) -> MembershipQuerySet:
        """Memberships that grant access: the tenant is allowed and the person active."""
        return self.filter(tenant__state=Tenant.State.ALLOWED, user__is_active=True)


class Membership(models.Model):
    """A person's role in a tenant, from the Entra app roles in their latest ID token."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=40, choices=Role.choices)
    granted_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "tenant", "role"], name="unique_membership")
        ]
        ordering: ClassVar = ["tenant", "role"]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.tenant}"

    @property
    def abilities(self) -> Iterable[str]:
        return ROLE_ABILITIES.get(self.role, [])


class EntraCredential(models.Model):
    """A person's Entra tokens, encrypted at rest (see accounts/crypto.py). Never shown anywhere."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="entra_credential")
    refresh_token_encrypted = models.BinaryField(editable=False)
    arm_token_encrypted = models.BinaryField(null=True, editable=False)
    arm_token_expires_at = models.DateTimeField(null=True, editable=False)
    signed_in_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Entra credential"

    def __str__(self) -> str:
        return f"Entra credential of {self.user}"
