"""Each list page renders with a fixed number of SQL queries whatever the row count."""

import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Side, Tenant
from deployments.models import PermissionChangeEvent
from jit.models import AuditEvent
from tests.conftest import make_tenant
from tests.deployments.conftest import make_app, make_jit_request, make_offer, make_run

N = 4


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def add_rows(n: int, *, fabrikam: Tenant, contoso: Tenant, start: int) -> None:
    """n more Fabrikam apps, n more customer tenants of Contoso and n more offer versions, each
    app with a permission change."""
    for i in range(start, start + n):
        offer = make_offer(
            contoso,
            version=f"1.{i}.0",
            authorizations=[{"principalId": "p", "roleDefinitionId": "r"}],
        )
        app = make_app(fabrikam, offer, f"fab-{i}", sub=str(uuid.uuid4()), jit_enabled=bool(i % 2))
        jit = make_jit_request(app)
        AuditEvent.objects.create(
            action=AuditEvent.Action.REQUESTED,
            tenant=fabrikam,
            application=app,
            jit_request=jit,
        )
        customer = make_tenant(uuid.uuid4(), f"Customer {i}", Side.CUSTOMER)
        other = make_app(
            customer,
            offer,
            f"cust-{i}",
            sub=str(uuid.uuid4()),
            state="Failed" if i % 3 else "Succeeded",
        )
        make_run(customer)
        for changed in (app, other):
            PermissionChangeEvent.objects.create(
                application=changed,
                customer_tenant=changed.customer_tenant,
                aspects=["lockLevel"],
                lines=["The lock is now read-only."],
                before={"lockLevel": "None"},
                after={"lockLevel": "ReadOnly"},
            )


@pytest.mark.parametrize(
    ("person", "url_name", "query"),
    [
        ("alice", "deployments:my_apps", ""),
        ("alice", "deployments:catalog", ""),
        ("pat", "deployments:customers", ""),
        ("pat", "deployments:customers", "?sort=apps&state=failed&plan=jit-plan"),
        ("pat", "deployments:customers", "?sort=failed&q=customer"),
        ("pat", "deployments:fleet", ""),
        ("pat", "deployments:catalog", ""),
        ("pat", "customer_detail", ""),
        ("pat", "jit:requests", ""),
        ("pat", "jit:requests", "?customer=fabrikam&state=Pending"),
        ("alice", "jit:requests", ""),
        ("pat", "jit:audit", "?tenant=fabrikam&application=fab"),
        ("alice", "jit:audit", ""),
        ("pat", "permissions:changes", ""),
        ("pat", "permissions:changes", "?tenant=customer"),
        ("pat", "permissions:changes", f"?tenant={uuid.UUID(int=7)}"),
        ("alice", "permissions:changes", ""),
    ],
)
def test_list_pages_use_the_same_number_of_queries_for_n_and_3n_rows(
    request: pytest.FixtureRequest,
    client: Client,
    fabrikam: Tenant,
    contoso: Tenant,
    person: str,
    url_name: str,
    query: str,
) -> None:
    client.force_login(request.getfixturevalue(person))
    make_run(fabrikam)
    if url_name == "customer_detail":
        url = reverse("deployments:customer_detail", args=[fabrikam.pk])
    else:
        url = reverse(url_name) + query
    add_rows(N, fabrikam=fabrikam, contoso=contoso, start=0)
    few = queries_for(client, url)
    add_rows(2 * N, fabrikam=fabrikam, contoso=contoso, start=N)
    many = queries_for(client, url)
    assert few == many
    # Session, user, navigation, then the page's own handful; the requests page also reads the
    # person's tenant ids (its scope filter), when Azure last listed the requests, the approval
    # windows' banners and, for an approver, the inbox of requests to decide.
    assert many <= (15 if url_name == "jit:requests" else 12)
