"""The deployments admin: mirrored rows stay read-only, and a permission change can be e-mailed
to the customer's admins again."""

from __future__ import annotations

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Tenant, User
from deployments.models import ManagedApplication, PermissionChangeEvent, RoleDefinition
from tests.admin_rows import changelist_url, logged, make_operator, run_action, signed_in_client


def _change(app: ManagedApplication) -> PermissionChangeEvent:
    return PermissionChangeEvent.objects.create(
        application=app,
        customer_tenant=app.customer_tenant,
        aspects=["roles"],
        lines=["The publisher may now restart virtual machines."],
        mailed_at=timezone.now(),
    )


def test_a_permission_change_is_mailed_again_to_the_customer_admins(
    fabrikam_app: ManagedApplication, northwind_app: ManagedApplication, alice: User
) -> None:
    User.objects.filter(pk=alice.pk).update(email="alice@fabrikam.example")
    mailed, nobody = _change(fabrikam_app), _change(northwind_app)  # Northwind has no admin
    client = signed_in_client(make_operator())

    _, messages = run_action(client, PermissionChangeEvent, "send_mail_again", [mailed, nobody])

    assert [m.to for m in mail.outbox] == [["alice@fabrikam.example"]]
    assert messages == [
        "Sent 1 message(s) about 1 change(s). Skipped 1: the customer tenant has no allowed admin "
        "with an e-mail address."
    ]
    assert logged("Send permission change mail again") == [str(mailed.pk)]
    mailed.refresh_from_db()
    assert mailed.mailed_at is not None


def test_mirrored_rows_cannot_be_added_or_changed(fabrikam_app: ManagedApplication) -> None:
    role = RoleDefinition.objects.create(guid="b24988ac", name="Contributor")
    client = signed_in_client(make_operator())
    assert client.get(reverse("admin:deployments_roledefinition_add")).status_code == 403
    change = reverse("admin:deployments_managedapplication_change", args=[fabrikam_app.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(change, {"name": "renamed"}).status_code == 403
    fabrikam_app.refresh_from_db()
    assert fabrikam_app.name == "analytics"
    assert client.get(changelist_url(RoleDefinition), {"q": role.guid}).status_code == 200


def test_a_staff_user_without_permissions_cannot_mail_again(
    fabrikam_app: ManagedApplication, fabrikam: Tenant
) -> None:
    event = _change(fabrikam_app)
    client = signed_in_client(make_operator(superuser=False, username="nobody"))
    status, _ = run_action(client, PermissionChangeEvent, "send_mail_again", [event])
    assert status == 403
    assert mail.outbox == []
