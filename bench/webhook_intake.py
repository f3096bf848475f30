"""Marketplace notification intake through gunicorn: sustained rate, latency, nothing lost, and
the memory the web and worker processes peak at.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/intake \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 uv run python bench/webhook_intake.py --seconds 10

Needs PostgreSQL and Redis (the database is dropped and created afresh, the Redis database
emptied). Starts the emulator (demo scenario) in this process, mirrors the demo's customer
tenants, then one gunicorn master with two sync workers (`gunicorn.conf.py`, as in production)
and two Celery workers. `--clients` threads, each with its own keep-alive connection, post
notifications as fast as the server answers for `--seconds`, each naming one of the mirrored
applications with an event time of its own (so none is a repeat). It prints the answers, the
rate accepted, the latency per notification as the client saw it (median, p99, max), waits for
the workers to finish, and checks that each accepted notification is stored once and led to
exactly one application sync, which succeeded. Last, the peak resident memory (VmHWM) of each
gunicorn worker and each Celery process. Exits 1 when a check fails.

The client shares the machine's cores with the server, PostgreSQL, Redis and the emulator: on
the 2-core machine the figure is a floor for what the server alone would take.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import itertools
import multiprocessing
import os
import secrets
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chaos import check, failures, free_port, prepare_database, wait_until  # noqa: E402
from jit_latency import start_portal_with_emulator  # noqa: E402
from scale_out import (  # noqa: E402
    Processes,
    print_machine,
    refuse_unless_postgresql_and_redis,
    seed,
    settle,
)


def _client_process(
    args: tuple[str, str, list[str], int, int, int, float, str],
) -> tuple[list[tuple[int, str | None, str]], list[float]]:
    """One load process: `threads` keep-alive clients posting until `stop_at` (monotonic)."""
    hook, secret, app_ids, first, step, threads, stop_at, base_iso = args
    base = dt.datetime.fromisoformat(base_iso)
    numbers = itertools.count(first, step)
    answers: list[tuple[int, str | None, str]] = []
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < stop_at:
            with lock:
                n = next(numbers)
            app_id = app_ids[n % len(app_ids)]
            body = {
                "eventType": "PATCH",
                "applicationId": app_id,
                "eventTime": (base + dt.timedelta(milliseconds=n))
                .isoformat()
                .replace("+00:00", "Z"),
                "provisioningState": "Succeeded",
            }
            started = time.perf_counter()
            response = session.post(hook, params={"sig": secret}, json=body, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            status = response.json().get("status") if response.status_code == 200 else None
            with lock:
                latencies.append(elapsed)
                answers.append((response.status_code, status, app_id))

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return answers, latencies


def post_notifications(
    web: str, apps: list[Any], *, processes: int, clients: int, seconds: float
) -> tuple[collections.Counter[tuple[int, str | None]], list[float], dict[str, int], float]:
    """Post from `clients` threads spread over `processes` processes of their own (not this
    one, which serves the emulator) for `seconds`; returns the answers (status, outcome), each
    latency in ms, accepted notifications per application id and the seconds it took."""
    from django.conf import settings

    hook = f"{web}/{settings.MARKETPLACE_WEBHOOK_PATH.strip('/')}/resource"
    secret = str(settings.MARKETPLACE_WEBHOOK_SECRET)
    base = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    app_ids = [app.arm_id for app in apps]
    per_process = max(1, clients // processes)
    started = time.perf_counter()
    stop_at = time.monotonic() + seconds
    jobs = [
        (hook, secret, app_ids, n, processes, per_process, stop_at, base) for n in range(processes)
    ]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_client_process, jobs)
    took = time.perf_counter() - started
    answers: collections.Counter[tuple[int, str | None]] = collections.Counter()
    accepted: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    for process_answers, process_latencies in results:
        latencies += process_latencies
        for status_code, status, app_id in process_answers:
            answers[status_code, status] += 1
            if status == "accepted":
                accepted[app_id] += 1
    return answers, latencies, dict(accepted), took


def verify(accepted: dict[str, int], last_seed_run: int) -> None:
    from deployments.models import MarketplaceEvent, SyncRun

    stored = collections.Counter(
        MarketplaceEvent.objects.values_list("application_arm_id", flat=True).iterator()
    )
    runs = SyncRun.objects.filter(pk__gt=last_seed_run).exclude(application_arm_id="")
    syncs = collections.Counter(runs.values_list("application_arm_id", flat=True).iterator())
    failed = runs.exclude(state=SyncRun.State.SUCCEEDED).count()
    total = sum(accepted.values())
    check(
        all(stored.get(app, 0) == n for app, n in accepted.items())
        and sum(stored.values()) == total,
        f"each of the {total} accepted notifications stored once ({sum(stored.values())} stored)",
    )
    check(
        all(syncs.get(app, 0) == n for app, n in accepted.items()) and sum(syncs.values()) == total,
        f"each led to exactly one application sync ({sum(syncs.values())} syncs)",
    )
    check(failed == 0, f"every application sync succeeded ({failed} did not)")


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[parent].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def peak_memory(processes: Processes) -> list[tuple[str, int, float]]:
    """(process name, pid, peak RSS in MiB) for each process and its children."""
    peaks = []
    for name, process in processes.children:
        for pid in _descendants(process.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            kib = next(
                (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")),
                0,
            )
            role = "master" if pid == process.pid else "child"
            peaks.append((f"{name} {role}", pid, kib / 1024))
    return peaks


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8, help="client threads in all")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--workers-during",
        action="store_true",
        help="run the Celery workers during the burst (by default they start after it and drain "
        "the queue, so the burst measures the web tier alone on the shared cores)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the syncs")
    args = parser.parse_args()
    database, broker = refuse_unless_postgresql_and_redis()
    prepare_database(database)
    import subprocess

    subprocess.run(["redis-cli", "-u", broker, "flushdb"], check=True, capture_output=True)
    print_machine(database, broker)

    emulator, env = start_portal_with_emulator("intake", polling_interval=0)
    # The web and worker processes run as deploy/ configures them: DEBUG off (no query log,
    # no debug cursor) and persistent database connections.
    env.update(
        {
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_WEBHOOK": "1000000/m",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_CONN_MAX_AGE": "60",
        }
    )
    logs = Path(env["VAR_DIR"]) / "logs"
    logs.mkdir()
    processes = Processes(env, logs)
    try:
        world = seed(emulator)
        web = processes.web("web", free_port())
        if args.workers_during:
            for name in ("worker-1", "worker-2"):
                processes.worker(name)

        def healthy() -> bool:
            try:
                return requests.get(f"{web}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        if not wait_until(healthy, 60, 0.5):
            raise SystemExit(f"The web process did not answer; see {logs}")
        print(
            f"gunicorn with 2 workers at {web}; 2 Celery workers "
            f"{'during' if args.workers_during else 'after'} the burst; {len(world['apps'])} "
            f"applications mirrored; {args.clients} clients in {args.client_processes} "
            f"processes for {args.seconds:.0f} s\n"
        )
        web_pids = [
            pid for name, p in processes.children if name == "web" for pid in _descendants(p.pid)
        ]
        web_cpu = cpu_seconds(web_pids)
        answers, latencies, accepted, took = post_notifications(
            web,
            world["apps"],
            processes=args.client_processes,
            clients=args.clients,
            seconds=args.seconds,
        )
        total = sum(accepted.values())
        p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
        print(f"  answers (status, outcome): {dict(answers)}")
        print(
            f"  accepted {total} in {took:.1f} s: {total / took:.0f}/s; latency median "
            f"{statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms"
        )
        web_cpu = cpu_seconds(web_pids) - web_cpu
        print(
            f"  gunicorn's CPU during the burst: {web_cpu:.1f} s, "
            f"{web_cpu * 1000 / max(1, sum(answers.values())):.1f} ms per notification"
        )
        if not args.workers_during:
            for name in ("worker-1", "worker-2"):
                processes.worker(name)
        started = time.perf_counter()
        settled = settle(args.timeout)
        print(f"  the workers synced every application in {time.perf_counter() - started:.1f} s")
        check(settled, f"every sync finished within {args.timeout:.0f} s")
        check(set(answers) == {(200, "accepted")}, "every notification was answered 200 accepted")
        verify(accepted, world["last_seed_run"])
        print("\nPeak resident memory (VmHWM):")
        for name, pid, mib in peak_memory(processes):
            print(f"  {name:24} pid {pid:7d} {mib:7.1f} MiB")
    finally:
        processes.stop()
        emulator.stop()
    print(f"\n{len(failures)} failure(s)" + (": " + "; ".join(failures) if failures else ""))
    if failures:
        print(f"The processes' logs are in {logs}")
    else:
        shutil.rmtree(env["VAR_DIR"], ignore_errors=True)
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
