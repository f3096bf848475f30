"""What the operator's admin pages read from the mirror and the actions they start.

Kept out of the admin classes so that they stay declarations; the tenant list (accounts/admin.py)
reads each tenant's sync status here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Left

from accounts.models import Tenant
from deployments.models import ManagedApplication, PermissionChangeEvent, SyncRun
from deployments.permissions.mail import permission_change_mail_send

ERROR_SNIPPET = 160


def tenants_with_sync_status(tenants: QuerySet[Tenant]) -> QuerySet[Tenant]:
    """Annotate each tenant with its last finished whole-tenant sync (`last_sync_at`,
    `last_sync_state`, `last_sync_error`) and `application_count` (applications ARM still lists).

    Correlated subqueries, so a page of tenants is one query whatever its length; the last run
    is found through the `syncrun_latest_idx` index (tenant, application, newest first).
    """
    last_run = SyncRun.objects.filter(
        tenant=OuterRef("pk"),
        application_arm_id="",
        state__in=[SyncRun.State.SUCCEEDED, SyncRun.State.FAILED],
    ).order_by("-queued_at", "-id")[:1]
    applications = (
        ManagedApplication.objects.filter(customer_tenant=OuterRef("pk"), vanished_at__isnull=True)
        .order_by()
        .values("customer_tenant")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return tenants.annotate(
        last_sync_at=Subquery(last_run.values("finished_at")),
        last_sync_state=Subquery(last_run.values("state")),
        last_sync_error=Subquery(
            last_run.annotate(snippet=Left("error", ERROR_SNIPPET)).values("snippet")
        ),
        application_count=Coalesce(Subquery(applications, output_field=IntegerField()), Value(0)),
    )


@dataclass
class MailsSent:
    sent: list[PermissionChangeEvent] = field(default_factory=list)
    nobody_to_mail: list[PermissionChangeEvent] = field(default_factory=list)
    failed: list[PermissionChangeEvent] = field(default_factory=list)
    messages: int = 0


def permission_change_mails_send_again(events: QuerySet[PermissionChangeEvent]) -> MailsSent:
    """Mail each change to its customer tenant's admins again, now.

    A mail the server refused stays unsent, and `deployments.send_unsent_change_mails` tries it
    again within five minutes.
    """
    outcome = MailsSent()
    for event in events.order_by("pk"):
        PermissionChangeEvent.objects.filter(pk=event.pk).update(mailed_at=None)
        sent = permission_change_mail_send(event_id=event.pk)
        outcome.messages += sent
        if sent:
            outcome.sent.append(event)
        elif PermissionChangeEvent.objects.filter(pk=event.pk, mailed_at__isnull=True).exists():
            outcome.failed.append(event)
        else:
            outcome.nobody_to_mail.append(event)
    return outcome
