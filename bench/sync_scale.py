"""How fast the ARM mirror syncs the emulator's `scale` scenario, and how much it writes.

    uv run python bench/sync_scale.py --tenants 2000 --workers 2
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench uv run python bench/sync_scale.py

Runs the emulator in this process (throttling on, as ARM would), creates the scenario's customer
tenants in a scratch database, then runs the same sync the Celery task runs, in N worker
processes: a first full sync, then a resync with nothing changed (unchanged subscriptions are
confirmed by the digest of their listings), then one where the hourly full comparison is due.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.throttling import LIMITS  # noqa: E402

READ_LIMIT = LIMITS["reads"]

if TYPE_CHECKING:
    from emulator.server import EmulatorServer


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def _worker(args: tuple[dict[str, str], list[int]]) -> tuple[int, int]:
    env, run_ids = args
    setup_django(env)
    from django.db import connection

    from deployments import sync

    for run_id in run_ids:
        sync.run_tenant_sync(run_id=run_id)
    connection.close()
    return len(run_ids), os.getpid()


def sync_everything(env: dict[str, str], workers: int) -> tuple[float, float]:
    """Sync every tenant in `workers` processes; returns the seconds and ARM calls per tenant."""
    from django.db import connections

    from deployments.models import SyncRun
    from deployments.runs import sync_all_tenants

    run_ids = [run.pk for run in sync_all_tenants()]
    chunks = [run_ids[i::workers] for i in range(workers)]
    connections.close_all()  # forked workers must not share the parent's database connection
    started = time.perf_counter()
    cpu_before = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_worker, [(env, chunk) for chunk in chunks])
    elapsed = time.perf_counter() - started
    cpu_after = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    emulator_cpu, workers_cpu = (
        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        for before, after in zip(cpu_before, cpu_after, strict=True)
    )
    runs = SyncRun.objects.filter(pk__in=run_ids)
    failed = runs.filter(state=SyncRun.State.FAILED)
    totals = {
        "calls": sum(r.calls_made for r in runs),
        "created": sum(r.rows_created for r in runs),
        "updated": sum(r.rows_updated for r in runs),
        "removed": sum(r.rows_removed for r in runs),
    }
    print(
        f"  {len(run_ids)} tenants in {elapsed:.1f} s ({len(run_ids) / elapsed:.1f} tenants/s); "
        f"ARM calls {totals['calls']}; rows created {totals['created']}, "
        f"updated {totals['updated']}, removed {totals['removed']}; failed runs {failed.count()}"
    )
    print(f"  CPU: emulator {emulator_cpu:.1f} s, sync workers {workers_cpu:.1f} s")
    for run in failed[:3]:
        print(f"    failed: {run.tenant}: {run.error}")
    return elapsed, totals["calls"] / max(len(run_ids), 1)


def _make_full_comparison_due() -> None:
    """Backdate the last comparisons and the stored built-in roles past FULL_COMPARISON_EVERY."""
    from django.db import connection
    from django.db.models import F

    from deployments.models import RoleDefinition, SyncRun
    from deployments.sync import FULL_COMPARISON_EVERY

    age = FULL_COMPARISON_EVERY * 2
    RoleDefinition.objects.update(refreshed_at=F("refreshed_at") - age)
    runs = list(SyncRun.objects.exclude(subscription_digests={}))
    for run in runs:
        for digest in run.subscription_digests.values():
            compared_at = datetime.datetime.fromisoformat(digest["compared_at"])
            digest["compared_at"] = (compared_at - age).isoformat()
    SyncRun.objects.bulk_update(runs, ["subscription_digests"])
    connection.close()


def start_emulator(
    scratch: Path, *, tenants: int, apps_per_tenant: int, requests_per_app: int, throttling: bool
) -> EmulatorServer:
    """The emulator with the `scale` scenario, in this process."""
    from emulator.server import EmulatorServer

    print(f"Building the scale scenario: {tenants} tenants x {apps_per_tenant} apps...")
    started = time.perf_counter()
    emulator = EmulatorServer(
        scenario="scale",
        var_dir=scratch,
        port=0,
        http_port=0,
        throttling=throttling,
        scenario_params={
            "tenants": tenants,
            "apps_per_tenant": apps_per_tenant,
            "requests_per_app": requests_per_app,
        },
    )
    emulator.start()
    print(f"  emulator ready in {time.perf_counter() - started:.1f} s at {emulator.https_url}")
    return emulator


def emulator_env(emulator: EmulatorServer) -> dict[str, str]:
    return {
        "EMULATOR_URL": emulator.https_url,
        "EMULATOR_SIGNIN_URL": emulator.http_url,
        "AZURE_CA_BUNDLE": emulator.ca_bundle,
    }


def create_customer_tenants(emulator: EmulatorServer) -> list[str]:
    """The scenario's customer tenants, allowed in the portal; their Entra tenant ids."""
    from accounts.models import Side, Tenant

    with emulator.state.lock:
        customers = [t for t in emulator.state.tenants.values() if t.kind == "customer"]
    Tenant.objects.bulk_create(
        Tenant(
            entra_tenant_id=t.id,
            display_name=t.name,
            side=Side.CUSTOMER,
            state=Tenant.State.ALLOWED,
        )
        for t in customers
    )
    return [str(t.id) for t in customers]


def publisher_tenant_id(emulator: EmulatorServer) -> str:
    with emulator.state.lock:
        return next(str(t.id) for t in emulator.state.tenants.values() if t.kind == "publisher")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--apps-per-tenant", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-throttling", action="store_true")
    parser.add_argument(
        "--arm-latency-ms",
        type=int,
        default=0,
        help="delay every ARM answer this long in the emulator, as ARM's own latency would",
    )
    parser.add_argument("--json", help="also write the figures to this file (bench/growth.py)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    # DEBUG off, as deployed: DEBUG logs every query (its SQL formatted) in each worker.
    env = {
        "VAR_DIR": str(scratch),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "LOG_LEVEL": "ERROR",
    }
    emulator = start_emulator(
        scratch,
        tenants=args.tenants,
        apps_per_tenant=args.apps_per_tenant,
        requests_per_app=1,
        throttling=not args.no_throttling,
    )
    env |= emulator_env(emulator)
    if args.arm_latency_ms:
        emulator.inject_fault(
            kind="latency", latency_ms=args.arm_latency_ms, rate=1.0, path="/subscriptions"
        )
    setup_django(env)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    create_customer_tenants(emulator)
    from django.conf import settings
    from django.db import connection

    print(
        f"Database: {connection.vendor}; workers: {args.workers}; listings sent at once: "
        f"{settings.ARM_PARALLEL_LISTINGS}; ARM latency added: {args.arm_latency_ms} ms"
    )
    connection.close()

    print("First full sync:")
    first, _ = sync_everything(env, args.workers)
    print("Resync with nothing changed (each subscription confirmed by its listings' digest):")
    no_change, _ = sync_everything(env, args.workers)
    print("Resync with nothing changed, full comparison (due hourly, or after another sync):")
    _make_full_comparison_due()
    full, calls_per_tenant = sync_everything(env, args.workers)
    print("One application changed in Azure, its notification received, its mirror updated:")
    change_ms = one_change(emulator)
    if args.json:
        figures = {
            "first sync s": first,
            "no-change resync s": no_change,
            "full comparison s": full,
            "one change ms": change_ms,
        }
        Path(args.json).write_text(json.dumps(figures))
    throttled = sum(1 for r in emulator.state.requests_log if r.get("status") == 429)
    print(f"429 answers from the emulator: {throttled}")
    burst, refill = READ_LIMIT
    print(
        f"ARM reads per tenant and sync: {calls_per_tenant:.1f}, against ARM's read budget of "
        f"{burst:.0f} per subscription and principal, refilled at {refill:.0f}/s: "
        f"a sync uses {calls_per_tenant / burst:.1%} of a full bucket"
    )
    emulator.stop()


def one_change(emulator: EmulatorServer) -> float:
    """Shorten one application's JIT maximum in the emulator, then take its notification the
    way the webhook does and run the application sync it queues, in this process."""
    from django.db import connection

    from deployments.models import ManagedApplication, SyncRun
    from deployments.notifications import parse_notification, record_notification
    from deployments.sync import run_application_sync

    app = ManagedApplication.objects.filter(jit_enabled=True).order_by("pk").last()
    assert app is not None
    with emulator.state.lock:
        record = emulator.state.applications[app.arm_id.lower()]
        policy = dict(record.jit_access_policy or {})
        policy["maximumJitAccessDuration"] = "PT1H"
        record.jit_access_policy = policy
        record.updated_at = datetime.datetime.now(datetime.UTC)
        calls_before = emulator.state.requests_logged
    started = time.perf_counter()
    notification = parse_notification(
        {
            "eventType": "PATCH",
            "applicationId": app.arm_id,
            "eventTime": datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z"),
            "provisioningState": "Succeeded",
        }
    )
    record_notification(notification)
    run = SyncRun.objects.filter(application_arm_id=app.arm_id).order_by("-pk").first()
    assert run is not None
    run_application_sync(run_id=run.pk)
    elapsed = time.perf_counter() - started
    app.refresh_from_db()
    run.refresh_from_db()
    with emulator.state.lock:
        calls = emulator.state.requests_logged - calls_before
    updated = app.jit_maximum_duration == datetime.timedelta(hours=1)
    print(
        f"  {elapsed * 1000:.0f} ms from notification to mirror ({'updated' if updated else 'NOT updated'}); "
        f"{calls} ARM calls; rows created {run.rows_created}, updated {run.rows_updated}"
    )
    connection.close()
    return elapsed * 1000


if __name__ == "__main__":
    main()
