"""Server time and SQL queries of the main list pages over a large mirror, each next to its floor.

    uv run python bench/pages.py --tenants 2000 --apps-per-tenant 5 --requests-per-app 10
    uv run python bench/pages.py --runs-per-tenant 500    # with five days of sync history
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench uv run python bench/pages.py

Fills a scratch database with tenants, offers, applications and sync runs through the ORM and
gathers planner statistics (ANALYZE, as autovacuum would on a live database), then renders each
page many times with Django's test client (in-process: the time is the server's, without network)
and prints p50/p95 and the number of queries. Beside each page, its floor (bench/floors.py): the
same page of rows from one hand-written SQL query, returned as JSON by a bare view through the
same middleware, and the ratio of the two p95s. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.test import Client

    from accounts.models import User

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# Each page, and the key of its floor in bench/floors.py (None: no floor written for it).
PAGES: dict[str, list[tuple[str, str | None]]] = {
    "publisher": [
        ("/apps/customers/", "/apps/customers/"),
        ("/apps/customers/?q=Customer+00042", None),
        ("/apps/customers/?sort=failed", None),
        ("/apps/customers/fleet/", "/apps/customers/fleet/"),
        ("/apps/catalog/", None),
        ("/jit/", "/jit/"),
        ("/jit/?state=Pending", "/jit/?state=Pending"),
        ("/jit/audit/", "/jit/audit/"),
    ],
    "customer": [
        ("/apps/applications/", "/apps/applications/"),
        ("/apps/catalog/", None),
        ("/jit/", "customer /jit/"),
    ],
}


def build(
    tenants: int, apps_per_tenant: int, runs_per_tenant: int, requests_per_app: int
) -> tuple[User, User]:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Membership, Role, Side, Tenant, User
    from deployments.models import ManagedApplication, Offer, SyncRun

    publisher = Tenant.objects.create(
        entra_tenant_id=uuid.uuid4(), display_name="Contoso", side=Side.PUBLISHER, state="allowed"
    )
    offers = [
        Offer.objects.create(
            key=f"plan:contoso/product/plan-{i}/1.{i}.0",
            kind=Offer.Kind.MARKETPLACE,
            publisher_tenant=publisher,
            display_name=f"Product {i}",
            plan=f"plan-{i}",
            version=f"1.{i}.0",
            lock_level="ReadOnly",
            jit_offered=True,
        )
        for i in range(4)
    ]
    customers = Tenant.objects.bulk_create(
        Tenant(
            entra_tenant_id=uuid.uuid4(),
            display_name=f"Customer {n:05d}",
            side=Side.CUSTOMER,
            state="allowed",
        )
        for n in range(tenants)
    )
    now = timezone.now()
    apps = []
    for tenant in customers:
        sub = str(uuid.uuid4())
        for a in range(apps_per_tenant):
            name = f"app-{tenant.pk}-{a}"
            apps.append(
                ManagedApplication(
                    arm_id=f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Solutions/applications/{name}",
                    customer_tenant=tenant,
                    offer=offers[a % len(offers)],
                    subscription_id=sub,
                    resource_group="rg",
                    name=name,
                    provisioning_state="Succeeded" if a % 7 else "Failed",
                    managed_resource_group_id=f"/subscriptions/{sub}/resourceGroups/mrg-{name}",
                    jit_enabled=True,
                )
            )
    ManagedApplication.objects.bulk_create(apps, batch_size=2000)
    # The latest sync of each tenant, after `runs_per_tenant - 1` older ones 15 minutes apart (the
    # beat schedule): a few days of history shows what the pages' "last sync" lookups cost.
    SyncRun.objects.bulk_create(
        (
            SyncRun(
                tenant=tenant,
                state=SyncRun.State.SUCCEEDED,
                queued_at=now - timedelta(minutes=3 + 15 * age),
                started_at=now - timedelta(minutes=3 + 15 * age),
                finished_at=now - timedelta(minutes=2 + 15 * age),
            )
            for tenant in customers
            for age in range(runs_per_tenant)
        ),
        batch_size=5000,
    )
    _requests(apps, requests_per_app, now)
    with connection.cursor() as cursor:
        # Planner statistics, as autovacuum keeps them on a live database after a bulk load.
        cursor.execute("ANALYZE")
    pat = User.objects.create(username="pat", display_name="Pat")
    Membership.objects.create(user=pat, tenant=publisher, role=Role.PUBLISHER_SUPPORT)
    alice = User.objects.create(username="alice", display_name="Alice")
    Membership.objects.create(user=alice, tenant=customers[0], role=Role.CUSTOMER_ADMIN)
    return pat, alice


def _requests(apps: list[Any], per_app: int, now: Any) -> None:
    """JIT requests on every application, as the scale scenario has them (pending, approved,
    denied, approved, pending...), each with its "requested" audit event."""
    from jit.models import AuditEvent, JitRequest

    states = ["Pending", "Approved", "Denied", "Expired", "Pending"]
    rows = [
        JitRequest(
            application=app,
            arm_id=f"{app.arm_id}/jitRequests/j{n}",
            name=f"j{app.pk}-{n}",
            requester_name="Pat Patel",
            principal_id=str(uuid.UUID(int=app.pk)),
            role_definition_id="b24988ac-6180-42a0-ab88-20f7382dd24c",
            start=now - timedelta(hours=3 * (n + 1)),
            duration=timedelta(hours=2),
            state=states[n % len(states)],
            created_at=now - timedelta(hours=3 * (n + 1)),
            justification="Scheduled maintenance",
        )
        for app in apps
        for n in range(per_app)
    ]
    JitRequest.objects.bulk_create(rows, batch_size=5000)
    AuditEvent.objects.bulk_create(
        (
            AuditEvent(
                at=jit.created_at,
                action=AuditEvent.Action.REQUESTED,
                actor_name="Pat Patel",
                tenant_id=jit.application.customer_tenant_id,
                application=jit.application,
                jit_request=jit,
                reason=jit.justification,
            )
            for jit in rows
        ),
        batch_size=5000,
    )


def measure(client: Client, url: str, repeat: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # templates compiled, as on a running server
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return timings, len(queries.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--apps-per-tenant", type=int, default=5)
    parser.add_argument("--runs-per-tenant", type=int, default=1, help="sync history per tenant")
    parser.add_argument("--requests-per-app", type=int, default=10)
    parser.add_argument("--json", help="also write the figures to this file (bench/growth.py)")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    os.environ.update(
        {
            "VAR_DIR": tempfile.mkdtemp(prefix="bench-pages-"),
            "DEBUG": "false",
            # As deployed: each process keeps its database connection between requests.
            "DATABASE_CONN_MAX_AGE": "60",
            "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "LOG_LEVEL": "ERROR",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    import floors

    from portal import urls

    urls.urlpatterns = floors.urlpatterns_with_floors(urls.urlpatterns)
    started = time.perf_counter()
    pat, alice = build(
        args.tenants, args.apps_per_tenant, args.runs_per_tenant, args.requests_per_app
    )
    print(
        f"{args.tenants} tenants x {args.apps_per_tenant} apps x {args.requests_per_app} JIT "
        f"requests built in {time.perf_counter() - started:.1f} s"
    )
    from django.db import connection

    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"Database: {connection.vendor}; {args.repeat} renders per page\n")
    print(
        f"{'page':40} {'p50 ms':>7} {'p95 ms':>7} {'queries':>7} "
        f"{'floor p50':>9} {'floor p95':>9} {'p95/floor':>9}"
    )
    floor_keys = list(floors.FLOORS)
    figures: dict[str, dict[str, float]] = {}
    for who, user in (("publisher", pat), ("customer", alice)):
        client = Client()
        client.force_login(user)
        tenant_pk = user.memberships.get().tenant_id
        for url, floor in PAGES[who]:
            timings, queries = measure(client, url, args.repeat)
            p50, p95 = statistics.median(timings), _p95(timings)
            line = f"{who + ' ' + url:40} {p50:7.1f} {p95:7.1f} {queries:7d}"
            figures[f"{who} {url}"] = {"p50": p50, "p95": p95, "queries": queries}
            if floor is not None:
                floor_url = f"/_floor/{floor_keys.index(floor)}/{tenant_pk}/"
                floor_timings, _ = measure(client, floor_url, args.repeat)
                floor_p95 = _p95(floor_timings)
                line += (
                    f" {statistics.median(floor_timings):9.1f} {floor_p95:9.1f}"
                    f" {p95 / floor_p95:8.1f}x"
                )
                figures[f"{who} {url}"]["floor_p95"] = floor_p95
            print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


def _p95(timings: list[float]) -> float:
    return statistics.quantiles(timings, n=20)[18]


if __name__ == "__main__":
    main()
