"""The portal's pages against asking Azure directly, side by side in one run.

    uv run python bench/mirror_vs_live.py --tenants 2000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench uv run python bench/mirror_vs_live.py

Two questions a publisher asks every day, answered twice against the same emulator (its
`scale` scenario, throttling on, as ARM would):

- "every pending JIT request across my customers": the portal's Requests page filtered to
  Pending, against listing the publisher's JIT scope with the Azure SDK and keeping the pending
  ones (the requests live there; naming each one's customer would need the fan-out below too);
- "every application of one offer across my customers": the portal's Customers page filtered
  to the offer, against the fan-out a script without the portal makes: for each customer
  tenant an app-only token, its subscriptions, and each subscription's applications, kept when
  they carry the offer's plan (on `--threads` threads).

The mirror is filled first, as the workers would (a full sync of every tenant and one listing
of the JIT scope), and how long that took is printed too: it is what buys the pages their
speed, paid once per sync interval instead of once per question. Prints medians, p95 and the
ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sync_scale  # noqa: E402  (the same mirror-filling steps as the sync benchmark)

if TYPE_CHECKING:
    from accounts.models import User
    from emulator.server import EmulatorServer


def _machine() -> str:
    from django.db import connection

    broker = os.environ.get("CELERY_BROKER_URL", "") or "filesystem"
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"database {connection.vendor}, broker {broker.split('://')[0]}"
    )


def _figures(timings: list[float]) -> str:
    p95 = statistics.quantiles(timings, n=20)[18] if len(timings) >= 2 else timings[0]
    return f"median {statistics.median(timings):9.1f} ms  p95 {p95:9.1f} ms  (n={len(timings)})"


def _timed(action: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        timings.append((time.perf_counter() - started) * 1000)
    return timings, result


def _calls(emulator: EmulatorServer, since: int) -> tuple[int, int, int]:
    """ARM calls, Entra token calls and 429 answers since the log's sequence number `since`
    (the emulator keeps its last 50,000 entries: older ones are not counted)."""
    with emulator.state.lock:
        log = [entry for entry in emulator.state.requests_log if entry["seq"] >= since]
    arm = [e for e in log if e["path"].lower().startswith(("/subscriptions", "/providers"))]
    tokens = sum(1 for e in log if "/oauth2/" in e["path"].lower())
    return len(arm), tokens, sum(1 for e in log if e.get("status") == 429)


def _log_position(emulator: EmulatorServer) -> int:
    with emulator.state.lock:
        return int(emulator.state.requests_logged)


def _publisher_user(publisher_tenant_id: str) -> User:
    from accounts.models import Membership, Role, Side, Tenant, User

    publisher, _ = Tenant.objects.get_or_create(
        entra_tenant_id=publisher_tenant_id,
        defaults={"display_name": "Contoso", "side": Side.PUBLISHER, "state": "allowed"},
    )
    pat = User.objects.create(username="pat", display_name="Pat")
    Membership.objects.create(user=pat, tenant=publisher, role=Role.PUBLISHER_SUPPORT)
    return pat


def _plan_key(plan: Any) -> str:
    return f"plan:{plan.publisher}/{plan.product}/{plan.name}/{plan.version}".lower()


def live_pending_requests() -> list[Any]:
    from azure_gateway.gateway import publisher_gateway
    from jit.mirror import publisher_scope

    with publisher_gateway() as gateway:
        records = gateway.list_jit_requests_at(publisher_scope())
    return [r for r in records if r.state.lower() == "pending"]


def live_offer_applications(tenant_ids: list[str], offer_key: str, threads: int) -> list[Any]:
    from azure_gateway.gateway import tenant_gateway

    def one_tenant(tenant_id: str) -> list[Any]:
        with tenant_gateway(tenant_id) as gateway:
            return [
                app
                for subscription in gateway.list_subscriptions()
                for app in gateway.list_managed_apps(subscription.subscription_id)
                if app.plan is not None and _plan_key(app.plan) == offer_key
            ]

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return [app for apps in pool.map(one_tenant, tenant_ids) for app in apps]


def _clear_token_cache() -> None:
    """A fresh fan-out asks each tenant for a token, as a script run from cron would."""
    from azure_gateway import gateway

    gateway._app_credential.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--apps-per-tenant", type=int, default=5)
    parser.add_argument("--requests-per-app", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="processes filling the mirror")
    parser.add_argument("--threads", type=int, default=8, help="threads of the live fan-out")
    parser.add_argument("--page-repeat", type=int, default=40)
    parser.add_argument("--live-repeat", type=int, default=3)
    parser.add_argument(
        "--warm-tokens",
        action="store_true",
        help="let the live fan-out keep its tokens between repeats (a long-running script)",
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-live-"))
    env = {"VAR_DIR": str(scratch), "DEBUG": "false", "LOG_LEVEL": "ERROR"}
    env["SECRET_KEY"] = "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
    emulator = sync_scale.start_emulator(
        scratch,
        tenants=args.tenants,
        apps_per_tenant=args.apps_per_tenant,
        requests_per_app=args.requests_per_app,
        throttling=True,
    )
    env |= sync_scale.emulator_env(emulator)
    sync_scale.setup_django(env)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from deployments.models import Offer
    from jit.mirror import jit_requests_reconcile_scope
    from jit.models import JitRequest, State

    setup_test_environment()
    call_command("migrate", verbosity=0)
    customers = sync_scale.create_customer_tenants(emulator)
    pat = _publisher_user(sync_scale.publisher_tenant_id(emulator))
    print(_machine())
    print(
        f"Scenario: {args.tenants} customer tenants x {args.apps_per_tenant} apps x "
        f"{args.requests_per_app} JIT requests; throttling on\n"
    )
    connection.close()

    print("Filling the mirror (what the workers do once per sync interval):")
    since = _log_position(emulator)
    sync_seconds, _ = sync_scale.sync_everything(env, args.workers)
    started = time.perf_counter()
    adopted = jit_requests_reconcile_scope()
    scope_seconds = time.perf_counter() - started
    calls, tokens, throttled = _calls(emulator, since)
    print(
        f"  JIT scope listed and mirrored in {scope_seconds:.1f} s ({adopted} rows changed); "
        f"the whole fill: {calls} ARM calls, {tokens} token requests, {throttled} 429s"
    )
    print(f"  total {sync_seconds + scope_seconds:.1f} s\n")

    offer = Offer.objects.filter(jit_offered=True).order_by("key").first()
    assert offer is not None, "the scale scenario has no JIT offer"
    pending_rows = JitRequest.objects.filter(state=State.PENDING).count()
    offer_rows = offer.applications.count()
    client = Client()
    client.force_login(pat)
    connection.ensure_connection()
    questions = [
        (
            f"pending JIT requests ({pending_rows})",
            "/jit/?state=Pending",
            live_pending_requests,
        ),
        (
            f"applications of {offer.display_name} ({offer_rows})",
            f"/apps/customers/?offer={offer.pk}",
            lambda: live_offer_applications(customers, offer.key, args.threads),
        ),
    ]
    print(f"{'question':44} {'how':6} figures")
    for label, url, live in questions:

        def page(url: str = url) -> int:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return len(response.content)

        page()  # templates compiled and connections open, as on a running server
        page_timings, _ = _timed(page, args.page_repeat)
        since = _log_position(emulator)
        live_timings: list[float] = []
        found: list[Any] = []
        for _ in range(args.live_repeat):
            if not args.warm_tokens:
                _clear_token_cache()
            timings, found = _timed(live, 1)
            live_timings += timings
        calls, tokens, throttled = _calls(emulator, since)
        ratio = statistics.median(live_timings) / statistics.median(page_timings)
        print(f"{label:44} {'portal':6} {_figures(page_timings)}")
        print(
            f"{'':44} {'live':6} {_figures(live_timings)}  "
            f"{len(found)} found; per run {calls // args.live_repeat} ARM calls, "
            f"{tokens // args.live_repeat} token requests, {throttled / args.live_repeat:.0f} 429s"
        )
        print(f"{'':44} {'ratio':6} live / portal = {ratio:,.0f}x (medians)")
    emulator.stop()


if __name__ == "__main__":
    main()
