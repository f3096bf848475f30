"""How long until a JIT decision shows in the portal, per approval channel, side by side.

    uv run python bench/jit_latency.py --decisions 5
    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench uv run python bench/jit_latency.py

Starts the emulator (demo scenario) in this process and a real Celery worker as a child process on
the configured broker, mirrors the demo tenants and the publisher's JIT scope, signs Alice in
(authorization code against the emulator, so her refresh token is stored as after a browser
sign-in), then times each channel on fresh pending requests:

- hand-off (the default): Alice records the approval here, makes it in "the Azure portal" a moment
  later; timed from the decision in Azure until the watch task has the outcome in the database.
- PIM (only where the emulator plays the undocumented `pim-link`): from the click until the
  worker's stage decision is confirmed by ARM.

The scheduled reconciliation (every minute) bounds a decision made in Azure with nothing recorded.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests

if TYPE_CHECKING:
    from emulator.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ALICE = "2029a5ca-c529-486a-ba15-f25657670ce5"
FABRIKAM = "3197bd27-109d-45f9-bdce-8200dec65df6"
CONTOSO = "0ec098e5-b929-47d3-a4de-b2f969d0ba5b"
PAT = "fe96399b-4112-4390-b6f7-5d487005120c"


def refresh_token_of(emulator: EmulatorServer, oid: str, client_id: str, secret: str) -> str:
    """What a browser sign-in leaves behind: a refresh token, via the authorization code flow."""
    authorize = requests.post(
        f"{emulator.http_url}/organizations/oauth2/v2.0/authorize",
        data={
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": "http://127.0.0.1:9/callback",
            "scope": "openid offline_access User.Read",
            "emulator_user": oid,
        },
        allow_redirects=False,
        timeout=10,
    )
    code = parse_qs(urlsplit(authorize.headers["Location"]).query)["code"][0]
    token = requests.post(
        f"{emulator.https_url}/organizations/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": secret,
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/callback",
            "scope": "openid offline_access User.Read",
        },
        verify=emulator.ca_bundle,
        timeout=10,
    )
    return str(token.json()["refresh_token"])


def start_portal_with_emulator(prefix: str, *, polling_interval: int) -> tuple[Any, dict[str, str]]:
    """Start the emulator (demo scenario) in this process and set Django up against it, with a
    scratch VAR_DIR and a queue of its own; returns the emulator and the environment that child
    processes (workers, a web server) need."""
    scratch = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    from emulator.server import EmulatorServer

    emulator = EmulatorServer(scenario="demo", var_dir=scratch, port=0, http_port=0)
    emulator.start()
    env = {
        "VAR_DIR": str(scratch),
        "DEBUG": "true",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "EMULATOR_URL": emulator.https_url,
        "EMULATOR_SIGNIN_URL": emulator.http_url,
        "AZURE_CA_BUNDLE": emulator.ca_bundle,
        "ARM_POLLING_INTERVAL": str(polling_interval),
        "CELERY_QUEUE": f"{prefix}-{os.getpid()}",
    }
    os.environ.update(env)
    import django

    django.setup()
    return emulator, {**os.environ, **env}


def control(emulator: EmulatorServer, call: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"{emulator.https_url}/_emulator/{call}",
        json=body,
        verify=emulator.ca_bundle,
        timeout=10,
    )
    response.raise_for_status()
    return dict(response.json())


def pending_request(emulator: EmulatorServer, app: Any, name: str) -> Any:
    """A fresh pending request, made by the publisher in "the Azure portal", mirrored here."""
    from jit import mirror
    from jit.models import JitRequest

    control(
        emulator,
        "act/jit-request",
        {"as": PAT, "application_id": app.arm_id, "duration": "PT1H", "name": name},
    )
    mirror.jit_requests_reconcile_scope()
    return JitRequest.objects.get(name=name)


def wait_for_approval(jit: Any, since: float, what: str) -> float:
    from jit.models import JitRequest

    while JitRequest.objects.get(pk=jit.pk).state != "Approved":
        if time.perf_counter() - since > 60:
            raise SystemExit(f"{what} not confirmed within 60 s")
        time.sleep(0.02)
    return time.perf_counter() - since


def time_handoff(emulator: EmulatorServer, app: Any, alice: Any, name: str, think: float) -> float:
    from jit import services

    jit = pending_request(emulator, app, name)
    services.jit_request_decide(jit_request=jit, by=alice, approve=True, justification="bench")
    time.sleep(think)  # opening the blade in Azure and clicking Approve there
    decided = time.perf_counter()
    control(
        emulator,
        "act/decide",
        {"as": ALICE, "jit_request_id": jit.arm_id, "decision": "Approve", "justification": "b"},
    )
    latency = wait_for_approval(jit, decided, name)
    print(f"  {name}: shown {latency:.2f} s after the decision in Azure")
    return latency


def time_pim(emulator: EmulatorServer, app: Any, alice: Any, name: str) -> float:
    from jit import services

    jit = pending_request(emulator, app, name)
    clicked = time.perf_counter()
    services.jit_request_decide(jit_request=jit, by=alice, approve=True, justification="bench")
    latency = wait_for_approval(jit, clicked, name)
    print(f"  {name}: confirmed {latency:.2f} s after the click")
    return latency


def report(label: str, latencies: list[float]) -> None:
    print(
        f"{label}: median {statistics.median(latencies):.2f} s, "
        f"max {max(latencies):.2f} s over {len(latencies)} decisions"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=5)
    args = parser.parse_args()

    emulator, env = start_portal_with_emulator("bench-jit", polling_interval=1)
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
    Tenant.objects.create(
        entra_tenant_id=CONTOSO, display_name="Contoso", side=Side.PUBLISHER, state="allowed"
    )
    sync.run_tenant_sync(run_id=SyncRun.objects.create(tenant=fabrikam).pk)
    alice = User.objects.create(
        username=f"{FABRIKAM}/{ALICE}", entra_tenant_id=FABRIKAM, entra_object_id=ALICE
    )
    Membership.objects.create(user=alice, tenant=fabrikam, role=Role.CUSTOMER_ADMIN)
    EntraCredential.objects.create(
        user=alice,
        refresh_token_encrypted=crypto.encrypt(
            refresh_token_of(
                emulator, ALICE, settings.ENTRA_CLIENT_ID, settings.ENTRA_CLIENT_SECRET or ""
            )
        ),
    )

    print(
        f"Broker: {settings.CELERY_BROKER_URL.split('://')[0]}; database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        time.sleep(3)  # the worker connects to the broker
        # Manual approval, with Alice a named approver.
        app = ManagedApplication.objects.get(name="fabrikam-monitoring")
        print(f"Watch interval {settings.JIT_WATCH_INTERVAL} s; scheduled reconciliation 60 s.")
        # Times spent in Azure spread evenly over one watch interval, after a 2 s minimum, so
        # the decisions land at every point of the watch's cycle.
        interval = settings.JIT_WATCH_INTERVAL
        handoff = [
            time_handoff(
                emulator, app, alice, f"handoff{n}", 2 + interval * (n + 0.5) / args.decisions
            )
            for n in range(args.decisions)
        ]
        report("hand-off, decision in Azure to shown here", handoff)
        control(emulator, "settings", {"assumptions": ["pim-link"]})
        Tenant.objects.filter(pk=fabrikam.pk).update(approval_channel="pim")
        pim = [time_pim(emulator, app, alice, f"pim{n}") for n in range(args.decisions)]
        report("PIM stage (assumed API), click to confirmed", pim)
        print(
            f"ratio hand-off / PIM (medians): "
            f"{statistics.median(handoff) / statistics.median(pim):.1f}"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        emulator.stop()


if __name__ == "__main__":
    main()
