"""The tenant admin: its sync columns in a constant number of queries, and the allow, block,
sign-out and sync actions (each recorded in the admin log)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership, Role, Side, Tenant, User
from deployments.models import SyncRun
from tests.admin_rows import changelist_url, logged, make_operator, run_action, signed_in_client
from tests.conftest import make_tenant
from tests.deployments.conftest import make_app, make_offer, make_run


def session_of(user: User) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session.create()
    assert session.session_key is not None
    return session.session_key


def _customers_with_history(count: int, publisher: Tenant, first: int = 0) -> None:
    offer = make_offer(publisher, name=f"Offer {first}")
    for n in range(first, first + count):
        tenant = make_tenant(uuid.uuid4(), f"Customer {n:02}", Side.CUSTOMER)
        make_app(tenant, offer, f"app-{n}", sub=str(uuid.uuid4()))
        make_run(tenant, ago=dt.timedelta(hours=1))
        make_run(tenant, SyncRun.State.FAILED, error="AuthorizationFailed: the portal lacks Reader")


def _changelist_queries(client_user: User) -> int:
    client = signed_in_client(client_user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(changelist_url(Tenant))
    assert response.status_code == 200
    return len(queries)


def test_tenant_changelist_reads_a_constant_number_of_queries(contoso: Tenant) -> None:
    operator = make_operator()
    _customers_with_history(1, contoso)
    one = _changelist_queries(operator)
    _customers_with_history(19, contoso, first=1)
    assert Tenant.objects.count() == 21
    assert _changelist_queries(operator) == one


def test_tenant_row_shows_last_sync_its_outcome_and_application_count(
    contoso: Tenant, fabrikam: Tenant, northwind: Tenant
) -> None:
    offer = make_offer(contoso)
    make_app(fabrikam, offer, "one")
    make_app(fabrikam, offer, "two", sub=str(uuid.uuid4()))
    make_app(fabrikam, offer, "gone", sub=str(uuid.uuid4()), vanished_at=dt.datetime.now(dt.UTC))
    make_run(fabrikam, ago=dt.timedelta(hours=2))
    make_run(fabrikam, SyncRun.State.FAILED, error="AuthorizationFailed: the portal lacks Reader")
    make_run(fabrikam, SyncRun.State.QUEUED)  # not finished: not the last sync
    make_run(northwind)

    client = signed_in_client(make_operator())
    response = client.get(changelist_url(Tenant), {"o": "8"})  # sorted by application count
    assert response.status_code == 200
    rows = {tenant.pk: tenant for tenant in response.context["cl"].result_list}
    assert rows[fabrikam.pk].application_count == 2
    assert rows[fabrikam.pk].last_sync_state == SyncRun.State.FAILED
    assert rows[northwind.pk].last_sync_state == SyncRun.State.SUCCEEDED
    assert rows[contoso.pk].last_sync_state is None
    html = response.content.decode()
    assert "Failed: AuthorizationFailed: the portal lacks Reader" in html
    assert "Succeeded" in html


def test_block_signs_out_only_people_left_without_access(
    fabrikam: Tenant, northwind: Tenant, alice: User, charlie: User
) -> None:
    Membership.objects.create(user=charlie, tenant=fabrikam, role=Role.CUSTOMER_READER)
    alice_session, charlie_session = session_of(alice), session_of(charlie)
    client = signed_in_client(make_operator())

    status, messages = run_action(client, Tenant, "block", [fabrikam])

    assert status == 302
    fabrikam.refresh_from_db()
    assert fabrikam.state == Tenant.State.BLOCKED
    assert not Session.objects.filter(session_key=alice_session).exists()
    assert Session.objects.filter(session_key=charlie_session).exists()  # Northwind still lets in
    assert messages == [
        "1 tenant(s) blocked; 1 session(s) ended of people who had access nowhere else."
    ]
    assert logged("Block tenant") == [str(fabrikam.pk)]


def test_block_skips_tenants_already_blocked(fabrikam: Tenant, northwind: Tenant) -> None:
    Tenant.objects.filter(pk=northwind.pk).update(state=Tenant.State.BLOCKED)
    client = signed_in_client(make_operator())
    _, messages = run_action(client, Tenant, "block", [fabrikam, northwind])
    assert "Skipped 1: already blocked." in messages[0]
    assert logged("Block tenant") == [str(fabrikam.pk)]


def test_allow_lets_pending_tenants_in(fabrikam: Tenant) -> None:
    pending = make_tenant(uuid.uuid4(), "Tailspin", Side.CUSTOMER, state=Tenant.State.PENDING)
    client = signed_in_client(make_operator())
    _, messages = run_action(client, Tenant, "allow", [pending, fabrikam])
    pending.refresh_from_db()
    assert pending.state == Tenant.State.ALLOWED
    assert messages == ["1 tenant(s) allowed. Skipped 1: already allowed."]
    assert logged("Allow tenant") == [str(pending.pk)]


def test_expire_sessions_acts_on_blocked_tenants_only(
    fabrikam: Tenant, northwind: Tenant, alice: User, charlie: User
) -> None:
    # Blocked by an older version of the action, which left the sessions in place.
    Tenant.objects.filter(pk=fabrikam.pk).update(state=Tenant.State.BLOCKED)
    alice_session, charlie_session = session_of(alice), session_of(charlie)
    client = signed_in_client(make_operator())

    _, messages = run_action(client, Tenant, "expire_sessions", [fabrikam, northwind])

    assert not Session.objects.filter(session_key=alice_session).exists()
    assert Session.objects.filter(session_key=charlie_session).exists()
    assert messages == [
        "Ended 1 session(s) of people of 1 blocked tenant(s) who have access nowhere else. "
        "Skipped 1: the tenant is not blocked."
    ]
    assert logged("Expire sessions of blocked tenant's people") == [str(fabrikam.pk)]


def test_sync_now_queues_allowed_customers_only(contoso: Tenant, fabrikam: Tenant) -> None:
    client = signed_in_client(make_operator())
    _, messages = run_action(client, Tenant, "sync_now", [contoso, fabrikam])
    assert list(SyncRun.objects.values_list("tenant", "state")) == [
        (fabrikam.pk, SyncRun.State.QUEUED)
    ]
    assert "Skipped 1: only allowed customer tenants are synced." in messages[0]
    assert logged("Sync tenant now") == [str(fabrikam.pk)]


def test_a_staff_user_who_may_only_view_tenants_cannot_run_their_actions(
    fabrikam: Tenant,
) -> None:
    from django.contrib.auth.models import Permission

    viewer = make_operator(superuser=False, username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_tenant"))
    client = signed_in_client(viewer)
    listing = client.get(changelist_url(Tenant))
    assert listing.status_code == 200
    assert listing.context["action_form"] is None  # no action is offered

    run_action(client, Tenant, "block", [fabrikam])
    fabrikam.refresh_from_db()
    assert fabrikam.state == Tenant.State.ALLOWED
    assert logged("Block tenant") == []


def test_a_staff_user_without_permissions_cannot_block(fabrikam: Tenant) -> None:
    client = signed_in_client(make_operator(superuser=False, username="nobody"))
    status, _ = run_action(client, Tenant, "block", [fabrikam])
    assert status == 403
    fabrikam.refresh_from_db()
    assert fabrikam.state == Tenant.State.ALLOWED
