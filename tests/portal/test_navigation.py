"""The navigation shows each person the sections their roles open, and what waits for them."""

from django.test import Client

from accounts.models import Tenant, User
from portal.context_processors import NavItem
from tests.deployments.conftest import make_app, make_jit_request, make_offer


def _nav(client: Client, user: User) -> list[NavItem]:
    client.force_login(user)
    items: list[NavItem] = client.get("/").context["nav_items"]
    return items


def test_customer_admin_sees_her_sections_and_the_requests_waiting_for_her(
    client: Client, alice: User, contoso: Tenant
) -> None:
    app = make_app(
        alice.memberships.get().tenant, make_offer(contoso), "monitoring", jit_enabled=True
    )
    make_jit_request(app)
    make_jit_request(app)
    make_jit_request(app, state="Approved")
    items = {item.label: item for item in _nav(client, alice)}
    assert set(items) == {"My applications", "Requests", "Permissions", "Catalog", "Profile"}
    assert items["Requests"].badge == 2
    page = client.get("/").content.decode()
    assert '2<span class="visually-hidden"> waiting for your decision</span>' in page


def test_a_reader_sees_no_count_to_act_on(client: Client, bob: User, contoso: Tenant) -> None:
    app = make_app(
        bob.memberships.get().tenant, make_offer(contoso), "monitoring", jit_enabled=True
    )
    make_jit_request(app)
    items = {item.label: item for item in _nav(client, bob)}
    assert items["Requests"].badge == 0


def test_publisher_support_sees_customers_not_my_applications(client: Client, pat: User) -> None:
    labels = [item.label for item in _nav(client, pat)]
    assert "Customers" in labels
    assert "My applications" not in labels


def test_anonymous_people_get_no_sections(client: Client, db: None) -> None:
    assert client.get("/").context["nav_items"] == []


def test_the_requests_page_gives_its_inbox_count_to_the_badge_without_counting_again(
    client: Client, alice: User, contoso: Tenant
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    app = make_app(
        alice.memberships.get().tenant, make_offer(contoso), "monitoring", jit_enabled=True
    )
    for _ in range(3):
        make_jit_request(app)
    client.force_login(alice)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/jit/")
    items = {item.label: item for item in response.context["nav_items"]}
    assert items["Requests"].badge == 3 == response.context["inbox_total"]
    counts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(*)")]
    pending_counts = [sql for sql in counts if "Pending" in sql and "LIMIT" not in sql]
    assert len(pending_counts) == 0  # the inbox is listed once; the badge reuses its total
    memberships = [q for q in queries.captured_queries if 'FROM "accounts_membership"' in q["sql"]]
    assert len(memberships) == 1  # the access check's roles are the navigation's
