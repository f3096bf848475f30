"""Killed and restarted parts: a Celery worker SIGKILLed during JIT submissions and during a sync,
then PostgreSQL and Redis stopped and started again under a running web server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chaos \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/3 uv run python bench/chaos.py --requests 200

Needs the PostgreSQL + Redis machine, as root: it stops and starts both services with the
commands that started them (`--no-outages` skips that part). The database named in
DATABASE_URL is dropped and created afresh. Prints what it did and what it found, and exits 1
when anything was lost or doubled or a page answered other than expected.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from jit_latency import (  # noqa: E402
    ALICE,
    CONTOSO,
    FABRIKAM,
    PAT,
    refresh_token_of,
    start_portal_with_emulator,
)

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect {version} main start"
STOP_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect {version} main stop -m fast"
START_REDIS = (
    "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no"
    " --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(what)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "portal", "worker", "--concurrency=2"),
            *("--loglevel=WARNING", "--without-gossip", "--without-mingle"),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its pool processes: nothing gets to clean up."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_until(predicate: Any, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def prepare_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def setup(emulator: Any) -> tuple[Any, Any, Any]:
    """Tenants, Fabrikam mirrored, Pat and Alice signed in (refresh tokens stored)."""
    from django.conf import settings
    from django.core.management import call_command

    from accounts import crypto
    from accounts.models import EntraCredential, Membership, Role, Side, Tenant, User
    from deployments import sync
    from deployments.models import ManagedApplication, SyncRun

    call_command("migrate", verbosity=0)
    fabrikam = Tenant.objects.create(
        entra_tenant_id=FABRIKAM, display_name="Fabrikam", side=Side.CUSTOMER, state="allowed"
    )
    contoso = Tenant.objects.create(
        entra_tenant_id=CONTOSO, display_name="Contoso", side=Side.PUBLISHER, state="allowed"
    )
    sync.run_tenant_sync(run_id=SyncRun.objects.create(tenant=fabrikam).pk)
    people = {}
    for oid, tenant, role in (
        (PAT, contoso, Role.PUBLISHER_SUPPORT),
        (ALICE, fabrikam, Role.CUSTOMER_ADMIN),
    ):
        user = User.objects.create(
            username=f"{tenant.entra_tenant_id}/{oid}",
            entra_tenant_id=tenant.entra_tenant_id,
            entra_object_id=oid,
            display_name=oid[:8],
        )
        Membership.objects.create(user=user, tenant=tenant, role=role)
        token = refresh_token_of(
            emulator, oid, settings.ENTRA_CLIENT_ID, settings.ENTRA_CLIENT_SECRET or ""
        )
        EntraCredential.objects.create(user=user, refresh_token_encrypted=crypto.encrypt(token))
        people[oid] = user
    app = ManagedApplication.objects.get(name="fabrikam-monitoring")
    return app, people[PAT], people[ALICE]


def kill_during_submissions(
    env: dict[str, str], emulator: Any, app: Any, pat: Any, count: int
) -> None:
    from django.utils import timezone

    from jit import outbox, services
    from jit.models import AuditEvent, JitRequest, Operation

    print(f"\n1. {count} JIT requests queued; the worker is SIGKILLed while it submits them")
    role = services.eligible_roles(application=app, user=pat)[0]
    before = {k for k, j in emulator.state.jit_requests.items()}
    for _ in range(count):
        services.jit_request_create(
            application=app,
            by=pat,
            role=role,
            start=timezone.now(),
            duration=dt.timedelta(hours=1),
            justification="chaos",
        )
    done = Operation.objects.filter(status=Operation.Status.DONE)
    worker = start_worker(env)
    wait_until(lambda: done.count() >= count // 3, 120, 0.05)
    kill(worker)
    at_kill = done.count()
    print(f"  killed the worker with {at_kill} of {count} submitted")
    worker = start_worker(env)
    try:
        wait_until(lambda: done.count() == count, 30)
        stuck = Operation.objects.exclude(status=Operation.Status.DONE).count()
        print(f"  after the restart: {count - stuck} done, {stuck} waiting for the sweep")
        # Twenty minutes pass (the rows age), then beat's sweep runs.
        unfinished = Operation.objects.exclude(status=Operation.Status.DONE)
        unfinished.update(created_at=timezone.now() - dt.timedelta(minutes=20))
        unfinished.filter(claimed_at__isnull=False).update(
            claimed_at=timezone.now() - dt.timedelta(minutes=20)
        )
        requeued = outbox.requeue_stale_operations()
        print(f"  the outbox sweep queued {len(requeued)} again")
        wait_until(lambda: done.count() == count, 120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    created = JitRequest.objects.filter(justification="chaos")
    in_azure = [k for k in emulator.state.jit_requests if k not in before]
    check(done.count() == count, f"every submission done ({done.count()} of {count})")
    check(len(in_azure) == count, f"each request exists once in Azure ({len(in_azure)})")
    check(
        {j.arm_id.lower() for j in created} == set(in_azure), "the mirror names the same requests"
    )
    requested = AuditEvent.objects.filter(action=AuditEvent.Action.REQUESTED, reason="chaos")
    check(requested.count() == count, f"one 'requested' audit event each ({requested.count()})")


def kill_during_sync(env: dict[str, str], emulator: Any, fabrikam_id: int) -> None:
    from deployments import runs
    from deployments.models import ManagedApplication, SyncRun
    from deployments.runs import queue_tenant_sync

    print(
        "\n2. A tenant sync runs slowly (a second per ARM call); the worker is SIGKILLed mid-sync"
    )
    from accounts.models import Tenant

    tenant = Tenant.objects.get(pk=fabrikam_id)
    expected = sorted(
        ManagedApplication.objects.filter(customer_tenant=tenant).values_list("arm_id", flat=True)
    )
    emulator.inject_fault(kind="latency", latency_ms=1000, rate=1.0, path="/subscriptions/")
    run = queue_tenant_sync(tenant=tenant)
    worker = start_worker(env)
    wait_until(lambda: SyncRun.objects.get(pk=run.pk).state == SyncRun.State.RUNNING, 60, 0.05)
    time.sleep(1.5)
    kill(worker)
    emulator.faults.clear()
    print(f"  killed the worker with the run {SyncRun.objects.get(pk=run.pk).state}")
    worker = start_worker(env)
    try:
        # After STALE_AFTER, beat's sync_all_tenants closes the orphan and queues a new run.
        started_at = SyncRun.objects.get(pk=run.pk).started_at
        assert started_at is not None
        SyncRun.objects.filter(pk=run.pk).update(started_at=started_at - runs.STALE_AFTER * 2)
        runs.sync_all_tenants()
        finished = SyncRun.objects.filter(tenant=tenant, state=SyncRun.State.SUCCEEDED)
        wait_until(lambda: finished.filter(pk__gt=run.pk).exists(), 120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    orphan = SyncRun.objects.get(pk=run.pk)
    check(orphan.state == SyncRun.State.FAILED, f"the killed run is closed ({orphan.state})")
    check(finished.filter(pk__gt=run.pk).count() == 1, "one new run succeeded")
    open_runs = SyncRun.objects.filter(tenant=tenant, state__in=["queued", "running"]).count()
    check(open_runs == 0, f"no run left open ({open_runs})")
    mirrored = sorted(
        ManagedApplication.objects.filter(customer_tenant=tenant).values_list("arm_id", flat=True)
    )
    check(
        mirrored == expected, f"the mirror holds the same {len(expected)} applications, once each"
    )


def outages(env: dict[str, str], alice: Any) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    print("\n3. PostgreSQL, then Redis, stopped and started under a running web server")
    session = SessionStore()
    session["_auth_user_id"] = str(alice.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = alice.get_session_auth_hash()
    session.create()
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    cookies = {"sessionid": session.session_key or ""}

    def status(path: str) -> int:
        try:
            return requests.get(
                base + path, cookies=cookies, timeout=10, allow_redirects=False
            ).status_code
        except requests.RequestException:
            return 0

    version = os.listdir("/etc/postgresql")[0]
    try:
        wait_until(lambda: status("/healthz") == 200, 30)
        check(status("/jit/") == 200, "a signed-in page answers 200")
        subprocess.run(STOP_POSTGRES.format(version=version), shell=True, check=True)
        try:
            check(
                status("/jit/") == 503,
                f"without PostgreSQL the page answers 503 ({status('/jit/')})",
            )
            check(status("/healthz") == 503, "and /healthz 503")
        finally:
            subprocess.run(START_POSTGRES.format(version=version), shell=True, check=True)
        check(
            wait_until(lambda: status("/jit/") == 200, 30),
            "with PostgreSQL back, 200 again by itself",
        )
        subprocess.run("redis-cli -p 6379 shutdown nosave", shell=True)
        try:
            check(status("/healthz") == 503, "without Redis /healthz answers 503")
            page = status("/jit/")
            check(page in (200, 503), f"and pages answer {page}, never 500")
        finally:
            subprocess.run(START_REDIS, shell=True, check=True)
        check(
            wait_until(lambda: status("/healthz") == 200, 30), "with Redis back, healthy by itself"
        )
    finally:
        web.terminate()
        web.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-outages", action="store_true")
    args = parser.parse_args()
    database = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not database.startswith("postgres") or not broker.startswith("redis"):
        raise SystemExit("Set DATABASE_URL to PostgreSQL and CELERY_BROKER_URL to Redis.")
    prepare_database(database)
    subprocess.run(["redis-cli", "-u", broker, "flushdb"], check=True, capture_output=True)

    emulator, env = start_portal_with_emulator("chaos", polling_interval=0)
    try:
        app, pat, alice = setup(emulator)
        kill_during_submissions(env, emulator, app, pat, args.requests)
        kill_during_sync(env, emulator, app.customer_tenant_id)
        if not args.no_outages:
            outages(env, alice)
    finally:
        emulator.stop()
    print(f"\n{len(failures)} failure(s)" + (": " + "; ".join(failures) if failures else ""))
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
