"""Scale-out proof: two web processes, two Celery workers and one beat under a burst of work.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scaleout \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 uv run python bench/scale_out.py

Needs PostgreSQL and Redis (it refuses SQLite and the filesystem broker). The database named in
DATABASE_URL is dropped and created afresh, and the Redis database of CELERY_BROKER_URL is
emptied. Starts the emulator (demo scenario) in this process, migrates, seeds the demo tenants
and mirrors them, then starts two gunicorn masters on two ports (web A and B), two Celery
workers (logging at INFO to files) and exactly one beat, restarted once with its whole schedule
overdue so that it sends every periodic task into the burst. Alice signs in once through web A; her
session cookie is then used on both. The burst, all at once from a thread pool:

- syncs of every customer tenant queued several times over (directly, as beat and the admin do,
  and by Alice's "Refresh now" through both web processes);
- Marketplace notifications spread over both web processes, some delivered twice (once to each);
- Alice's decisions on pending JIT requests (PIM channel), each posted to both web processes.

Then it checks that no Celery task succeeded twice (task ids in the workers' logs), that every
queued sync run had one task and succeeded, that no two whole-tenant syncs of a tenant
overlapped, that each accepted notification led to exactly one application sync, that each
decision ended with exactly one done operation and one audit event, and that the session worked
on both web processes. Exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import itertools
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chaos import check, failures, free_port, prepare_database, wait_until  # noqa: E402
from jit_latency import ALICE, PAT, control, start_portal_with_emulator  # noqa: E402

SUCCEEDED = re.compile(r"Task ([\w.]+)\[([0-9a-f-]{36})\] succeeded")


def refuse_unless_postgresql_and_redis() -> tuple[str, str]:
    database = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not database.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "bench/scale_out.py needs PostgreSQL: set DATABASE_URL=postgres://... "
            "(SQLite serializes every writer, so it proves nothing about several processes)."
        )
    if not broker.startswith("redis://"):
        raise SystemExit(
            "bench/scale_out.py needs Redis: set CELERY_BROKER_URL=redis://... "
            "(the filesystem broker is for one machine's demo)."
        )
    return database, broker


def print_machine(database: str, broker: str) -> None:
    import psycopg

    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:", 1)[1].split()[0])
        memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    with psycopg.connect(database) as connection:
        postgres = connection.execute("SHOW server_version").fetchone()
    redis_info = subprocess.run(
        ["redis-cli", "-u", broker, "info", "server"], capture_output=True, text=True, check=True
    ).stdout
    redis_version = re.search(r"redis_version:(\S+)", redis_info)
    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs{memory}; "
        f"Python {platform.python_version()}; "
        f"PostgreSQL {postgres[0] if postgres else '?'}; "
        f"Redis {redis_version.group(1) if redis_version else '?'}"
    )


class Processes:
    """The portal's processes as children, each in its own session, output to a log file."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], **extra_env: str) -> Path:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**self.env, **extra_env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children.append((name, process))
        return log

    def web(self, name: str, port: int) -> str:
        self.start(
            name,
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            WEB_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="2",
        )
        return f"http://127.0.0.1:{port}"

    def worker(self, name: str) -> Path:
        return self.start(
            name,
            [
                *(sys.executable, "-m", "celery", "--app", "portal", "worker"),
                *("--loglevel", "INFO", "--without-gossip", "--concurrency", "2"),
                *("--hostname", f"{name}@%h"),
            ],
        )

    def beat(self) -> Path:
        schedule = self.logs / "beat-schedule"
        return self.start(
            "beat",
            [
                *(sys.executable, "-m", "celery", "--app", "portal", "beat"),
                *("--loglevel", "INFO", "--schedule", str(schedule)),
            ],
        )

    def exited(self) -> list[str]:
        return [name for name, process in self.children if process.poll() is not None]

    def stop(self, only: str | None = None) -> None:
        """SIGTERM each (a warm shutdown for the workers), or only the one named, then wait;
        SIGKILL what lingers."""
        stopping = [(n, p) for n, p in self.children if only is None or n == only]
        self.children = [(n, p) for n, p in self.children if (n, p) not in stopping]
        for _, process in stopping:
            if process.poll() is None:
                process.terminate()
        for name, process in stopping:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop in 30 s; killed")
                process.kill()
                process.wait()


def seed(emulator: Any) -> dict[str, Any]:
    """Migrate, allow the demo tenants (seed_demo), mirror them once, Fabrikam on the PIM channel
    with pending JIT requests to decide."""
    from django.core.management import call_command

    from accounts.models import Side, Tenant
    from deployments import sync
    from deployments.models import ManagedApplication, SyncRun

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    customers = list(Tenant.objects.filter(side=Side.CUSTOMER, state=Tenant.State.ALLOWED))
    for tenant in customers:
        run = SyncRun.objects.create(tenant=tenant)
        sync.run_tenant_sync(run_id=run.pk)
        run.refresh_from_db()
        if run.state != SyncRun.State.SUCCEEDED:
            raise SystemExit(f"The first sync of {tenant} failed: {run.error}")
    control(emulator, "settings", {"assumptions": ["pim-link"]})
    Tenant.objects.filter(display_name="Fabrikam").update(
        approval_channel=Tenant.ApprovalChannel.PIM
    )
    apps = list(
        ManagedApplication.objects.filter(customer_tenant__in=customers, vanished_at__isnull=True)
    )
    return {
        "customers": customers,
        "apps": apps,
        "jit_app": ManagedApplication.objects.get(name="fabrikam-monitoring"),
        "last_seed_run": SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first(),
    }


def make_the_schedule_overdue() -> int:
    """Every periodic task last ran two days ago, as after a beat outage: the beat started next
    sends them all at once, during the burst (a sync of every tenant among them). Returns how
    many entries that is."""
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from portal.celery import app

    entries = PeriodicTask.objects.filter(name__in=list(app.conf.beat_schedule))
    return int(entries.update(last_run_at=timezone.now() - dt.timedelta(days=2)))


def pending_requests(emulator: Any, app: Any, count: int) -> list[Any]:
    from jit import mirror
    from jit.models import JitRequest

    names = [f"scaleout{n}" for n in range(count)]
    for name in names:
        control(
            emulator,
            "act/jit-request",
            {"as": PAT, "application_id": app.arm_id, "duration": "PT1H", "name": name},
        )
    mirror.jit_requests_reconcile_scope()
    return list(JitRequest.objects.filter(name__in=names, state="Pending"))


def sign_in(session: requests.Session, web: str, object_id: str) -> requests.Response:
    """The browser's part of a sign-in through the emulator's Entra: the portal's sign-in page,
    "Sign in with Microsoft", the person picked on the emulator's page, the callback."""
    page = session.get(f"{web}/auth/login/", timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if csrf is None:
        raise SystemExit(f"No sign-in form on {web}/auth/login/ ({page.status_code})")
    start = session.post(
        f"{web}/auth/entra/login/?process=login",
        data={"csrfmiddlewaretoken": csrf.group(1)},
        headers={"Referer": f"{web}/auth/login/"},
        allow_redirects=False,
        timeout=30,
    )
    authorize = urlsplit(start.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    picked = session.post(
        f"{authorize.scheme}://{authorize.netloc}{authorize.path}",
        data={**params, "emulator_user": object_id},
        allow_redirects=False,
        timeout=30,
    )
    return session.get(picked.headers["Location"], timeout=30)


def webhook_body(app: Any, n: int, base: dt.datetime) -> dict[str, Any]:
    return {
        "eventType": "PATCH",
        "applicationId": app.arm_id,
        "eventTime": (base + dt.timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
        "provisioningState": "Succeeded",
        "plan": {"name": "scale-out", "product": "analytics", "publisher": "contoso"},
    }


def burst(
    webs: list[str], session: requests.Session, world: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    """Everything at once from a thread pool; returns what the web processes answered."""
    from django.conf import settings
    from django.db import connections

    from deployments.runs import queue_tenant_sync

    hook = f"/{settings.MARKETPLACE_WEBHOOK_PATH.strip('/')}/resource"
    secret = settings.MARKETPLACE_WEBHOOK_SECRET
    base = dt.datetime.now(dt.UTC).replace(microsecond=0)
    csrf = session.cookies.get("csrftoken") or ""
    labels = {webs[0]: "A", webs[1]: "B"}
    fabrikam = next(t for t in world["customers"] if t.display_name == "Fabrikam")
    answers: dict[str, collections.Counter[Any]] = collections.defaultdict(collections.Counter)
    accepted: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def queue_directly(tenant: Any) -> None:
        queue_tenant_sync(tenant=tenant)
        connections.close_all()

    def answer(web: str, response: requests.Response) -> tuple[str, int | str]:
        """Which process, and its status; a redirect to the sign-in page means the session
        was not recognized there."""
        if "/auth/login" in response.headers.get("Location", ""):
            return labels[web], "sent to sign in"
        return labels[web], response.status_code

    def refresh(web: str) -> None:
        response = session.post(
            f"{web}/apps/tenants/{fabrikam.pk}/refresh/",
            headers={"X-CSRFToken": csrf, "Referer": web + "/"},
            allow_redirects=False,
            timeout=60,
        )
        with lock:
            answers["refresh"][answer(web, response)] += 1

    def notify(web: str, body: dict[str, Any]) -> None:
        response = requests.post(f"{web}{hook}", params={"sig": secret}, json=body, timeout=60)
        status = response.json().get("status") if response.status_code == 200 else None
        with lock:
            answers["webhook"][labels[web], response.status_code, status] += 1
            if status == "accepted":
                accepted[body["applicationId"]] += 1

    def decide(web: str, jit: Any) -> None:
        response = session.post(
            f"{web}/jit/requests/{jit.pk}/decide/",
            data={"decision": "approve", "justification": "scale-out"},
            headers={"X-CSRFToken": csrf, "Referer": web + "/"},
            allow_redirects=False,
            timeout=60,
        )
        with lock:
            answers["decision"][answer(web, response)] += 1

    jobs: list[tuple[Any, tuple[Any, ...]]] = []
    for round_ in range(args.syncs_per_tenant):
        jobs += [(queue_directly, (tenant,)) for tenant in world["customers"]]
        jobs += [(refresh, (webs[round_ % 2],))]
    for n in range(args.webhooks):
        body = webhook_body(world["apps"][n % len(world["apps"])], n, base)
        jobs.append((notify, (webs[n % 2], body)))
        if n % 5 == 0:  # Azure delivering the same notification again, to the other process
            jobs.append((notify, (webs[(n + 1) % 2], body)))
    for jit in world["requests"]:
        jobs += [(decide, (web, jit)) for web in webs]  # a double click across processes
    random.Random(0).shuffle(jobs)  # the kinds interleaved, the same way on every run
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for future in [pool.submit(function, *params) for function, params in jobs]:
            future.result()
    print(f"  {len(jobs)} requests and queueings in {time.perf_counter() - started:.1f} s")
    return {"answers": answers, "accepted": accepted}


def settle(timeout: float) -> bool:
    """Wait until every sync run and every decision's operation is finished."""
    from deployments.models import SyncRun
    from jit.models import Operation

    def quiet() -> bool:
        open_runs = SyncRun.objects.filter(state__in=[SyncRun.State.QUEUED, SyncRun.State.RUNNING])
        return not open_runs.exists() and not Operation.objects.unfinished().exists()

    if not wait_until(quiet, timeout, 0.5):
        return False
    # A task queued by what just finished (or by a beat tick) may still be on its way.
    time.sleep(3)
    return wait_until(quiet, 30, 0.5)


def task_successes(logs: list[Path]) -> collections.Counter[tuple[str, str]]:
    """(task name, task id) -> how many times a worker logged it as succeeded."""
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for log in logs:
        for match in SUCCEEDED.finditer(log.read_text(errors="replace")):
            counts[match.group(1), match.group(2)] += 1
    return counts


def verify(
    world: dict[str, Any], answered: dict[str, Any], logs: list[Path], sessions: dict[str, bool]
) -> None:
    from deployments.models import MarketplaceEvent, SyncRun
    from jit.models import AuditEvent, Operation

    print("\nChecks")
    successes = task_successes(logs)
    twice = sorted(f"{name}[{task_id}]" for (name, task_id), n in successes.items() if n > 1)
    by_name = collections.Counter(name for name, _ in successes)
    print(f"  tasks that succeeded: {dict(sorted(by_name.items()))}")
    check(not twice, f"no task succeeded twice ({len(successes)} task ids; twice: {twice[:5]})")
    split = [len(SUCCEEDED.findall(log.read_text(errors="replace"))) for log in logs]
    check(all(split), f"both workers ran tasks ({split})")

    runs = SyncRun.objects.filter(pk__gt=world["last_seed_run"])
    whole = runs.filter(application_arm_id="")
    single = runs.exclude(application_arm_id="")
    unfinished = runs.exclude(state=SyncRun.State.SUCCEEDED)
    check(
        not unfinished.exists(),
        f"every sync run of the burst succeeded ({runs.count()} runs; not succeeded: "
        f"{list(unfinished.values_list('pk', 'state', 'error')[:3])})",
    )
    check(
        by_name["deployments.sync_tenant"] == whole.count(),
        f"one sync_tenant task per queued whole-tenant run "
        f"({by_name['deployments.sync_tenant']} tasks, {whole.count()} runs)",
    )
    check(
        by_name["deployments.sync_application"] == single.count(),
        f"one sync_application task per application run "
        f"({by_name['deployments.sync_application']} tasks, {single.count()} runs)",
    )

    overlaps = []
    for tenant in world["customers"]:
        intervals = list(
            SyncRun.objects.filter(tenant=tenant, application_arm_id="", started_at__isnull=False)
            .order_by("started_at")
            .values_list("pk", "started_at", "finished_at")
        )
        for (pk, _, finished), (next_pk, next_started, _) in itertools.pairwise(intervals):
            if finished is None or next_started is None or next_started < finished:
                overlaps.append((tenant.display_name, pk, next_pk))
    per_tenant = whole.values("tenant").distinct().count()
    check(
        not overlaps,
        f"no two syncs of one tenant overlapped ({whole.count()} runs over {per_tenant} tenants;"
        f" overlapping: {overlaps[:3]})",
    )

    accepted = answered["accepted"]
    webhook_answers = answered["answers"]["webhook"]
    print(f"  notification answers (process, status, outcome): {dict(webhook_answers)}")
    wrong = {key: n for key, n in webhook_answers.items() if key[1] != 200}
    check(not wrong, f"every notification answered 200 ({wrong})")
    events = MarketplaceEvent.objects.count()
    check(
        events == sum(accepted.values()),
        f"each accepted notification kept once ({sum(accepted.values())} accepted, {events} kept)",
    )
    mismatched = {
        app_id.rsplit("/", 1)[-1]: (n, single.filter(application_arm_id=app_id).count())
        for app_id, n in accepted.items()
        if single.filter(application_arm_id=app_id).count() != n
    }
    check(
        not mismatched and single.count() == sum(accepted.values()),
        f"each accepted notification led to exactly one application sync "
        f"({single.count()} syncs; mismatched (accepted, syncs): {mismatched})",
    )

    print(f"  decision answers (process, status): {dict(answered['answers']['decision'])}")
    bad_decisions = []
    for jit in world["requests"]:
        operations = list(
            Operation.objects.filter(jit_request=jit, kind=Operation.Kind.DECIDE).values_list(
                "status", flat=True
            )
        )
        decided = AuditEvent.objects.filter(
            jit_request=jit, action=AuditEvent.Action.DECIDED
        ).count()
        if operations != [Operation.Status.DONE] or decided != 1:
            bad_decisions.append((jit.name, operations, decided))
    # The second post of a pair finds the first one's decision: 403 "You cannot decide this
    # request" (or 302 when both got that far), still an answer to Alice, never a sign-in page.
    decisions = answered["answers"]["decision"]
    check(
        all(status in (302, 403) for _, status in decisions)
        and {web for web, status in decisions if status == 302} == {"A", "B"},
        "every decision post, through A and through B, was taken as Alice's",
    )
    check(
        not bad_decisions,
        f"each of {len(world['requests'])} decisions: one done operation and one audit event"
        f" ({bad_decisions[:3]})",
    )
    refreshes = dict(answered["answers"]["refresh"])
    print(f"  refresh answers (process, status): {refreshes}")
    check(
        all(status == 302 for _, status in refreshes),
        "every refresh, through A and through B, was taken as Alice's",
    )
    for web, ok in sessions.items():
        check(ok, f"the session from web A works on {web}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--syncs-per-tenant", type=int, default=10)
    parser.add_argument("--webhooks", type=int, default=200)
    parser.add_argument("--decisions", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for the work")
    args = parser.parse_args()
    database, broker = refuse_unless_postgresql_and_redis()
    prepare_database(database)
    subprocess.run(["redis-cli", "-u", broker, "flushdb"], check=True, capture_output=True)
    print_machine(database, broker)

    emulator, env = start_portal_with_emulator("scale-out", polling_interval=0)
    # The workers' "Task ... succeeded" lines are the record of what ran; one person makes
    # every decision, more than RATE_LIMIT_ACTIONS allows in a minute.
    env.update({"LOG_LEVEL": "INFO", "RATE_LIMIT_ACTIONS": "100000/m"})
    logs = Path(env["VAR_DIR"]) / "logs"
    logs.mkdir()
    processes = Processes(env, logs)
    from django_celery_beat.models import PeriodicTask

    from portal.celery import app as celery_app

    try:
        started = time.perf_counter()
        world = seed(emulator)
        world["requests"] = pending_requests(emulator, world["jit_app"], args.decisions)
        print(
            f"Seeded: {len(world['customers'])} customer tenants, {len(world['apps'])} "
            f"applications, {len(world['requests'])} pending JIT requests "
            f"({time.perf_counter() - started:.1f} s)"
        )
        webs = [processes.web("web-a", free_port()), processes.web("web-b", free_port())]
        worker_logs = [processes.worker("worker-1"), processes.worker("worker-2")]
        # Beat writes its schedule to the database when it starts; stopped and started again
        # with every entry overdue, it sends them all during the burst. One beat at a time.
        processes.beat()
        written = PeriodicTask.objects.filter(name__in=list(celery_app.conf.beat_schedule))
        if not wait_until(lambda: written.count() == len(celery_app.conf.beat_schedule), 60):
            raise SystemExit(f"Beat did not write its schedule within 60 s; see {logs}")
        processes.stop("beat")
        overdue = make_the_schedule_overdue()
        beat_log = processes.beat()

        def healthy() -> bool:
            try:
                return all(requests.get(f"{w}/healthz", timeout=5).status_code == 200 for w in webs)
            except requests.RequestException:
                return False

        if not wait_until(healthy, 60, 0.5):
            raise SystemExit(f"The web processes did not answer; see {logs}")
        print(f"Processes: web A {webs[0]}, web B {webs[1]}, 2 workers, 1 beat; logs in {logs}")

        session = requests.Session()
        signed_in = sign_in(session, webs[0], ALICE)
        sessions = {}
        for web, label in zip(webs, ("web A", "web B"), strict=True):
            page = session.get(f"{web}/jit/", allow_redirects=False, timeout=30)
            sessions[label] = page.status_code == 200 and "Alice Archer" in page.text
        check(
            signed_in.status_code == 200, f"Alice signed in through web A ({signed_in.status_code})"
        )

        print("\nBurst")
        answered = burst(webs, session, world, args)
        started = time.perf_counter()
        settled = settle(args.timeout)
        print(f"  settled in {time.perf_counter() - started:.1f} s")
        check(settled, f"every sync and decision finished within {args.timeout:.0f} s")
        check(not processes.exited(), f"no process exited on its own ({processes.exited()})")
    finally:
        processes.stop()
        emulator.stop()
    verify(world, answered, worker_logs, sessions)
    sent = beat_log.read_text(errors="replace").count("Sending due task")
    check(sent >= overdue, f"the one beat sent its {overdue} overdue periodic tasks ({sent} sent)")
    print(f"\n{len(failures)} failure(s)" + (": " + "; ".join(failures) if failures else ""))
    if failures:
        print(f"The processes' logs are in {logs}")
    else:
        shutil.rmtree(env["VAR_DIR"], ignore_errors=True)
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
