"""Server time and SQL queries of the main list pages over a large mirror.

    uv run python bench/pages.py --tenants 2000 --apps-per-tenant 5
    uv run python bench/pages.py --runs-per-tenant 500    # with five days of sync history
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench uv run python bench/pages.py

Fills a scratch database with tenants, offers, applications and sync runs through the ORM and
gathers planner statistics (ANALYZE, as autovacuum would on a live database), then renders each
page many times with Django's test client (in-process: the time is the server's, without network)
and prints p50/p95 and the number of queries. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.test import Client

    from accounts.models import User

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = {
    "publisher": [
        "/apps/customers/",
        "/apps/customers/?q=Customer+00042",
        "/apps/customers/?sort=failed",
        "/apps/customers/fleet/",
        "/apps/catalog/",
        "/jit/",
        "/jit/audit/",
    ],
    "customer": ["/apps/applications/", "/apps/catalog/", "/jit/"],
}


def build(tenants: int, apps_per_tenant: int, runs_per_tenant: int) -> tuple[User, User]:
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
    with connection.cursor() as cursor:
        # Planner statistics, as autovacuum keeps them on a live database after a bulk load.
        cursor.execute("ANALYZE")
    pat = User.objects.create(username="pat", display_name="Pat")
    Membership.objects.create(user=pat, tenant=publisher, role=Role.PUBLISHER_SUPPORT)
    alice = User.objects.create(username="alice", display_name="Alice")
    Membership.objects.create(user=alice, tenant=customers[0], role=Role.CUSTOMER_ADMIN)
    return pat, alice


def measure(client: Client, url: str, repeat: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

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
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    os.environ.update(
        {
            "VAR_DIR": tempfile.mkdtemp(prefix="bench-pages-"),
            "DEBUG": "false",
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
    started = time.perf_counter()
    pat, alice = build(args.tenants, args.apps_per_tenant, args.runs_per_tenant)
    print(
        f"{args.tenants} tenants x {args.apps_per_tenant} apps built in "
        f"{time.perf_counter() - started:.1f} s"
    )
    from django.db import connection

    print(f"Database: {connection.vendor}; {args.repeat} renders per page\n")
    print(f"{'page':48} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for who, user in (("publisher", pat), ("customer", alice)):
        client = Client()
        client.force_login(user)
        for url in PAGES[who]:
            timings, queries = measure(client, url, args.repeat)
            p95 = statistics.quantiles(timings, n=20)[18]
            print(f"{who + ' ' + url:48} {statistics.median(timings):8.1f} {p95:8.1f} {queries:8d}")


if __name__ == "__main__":
    main()
