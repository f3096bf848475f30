"""Run the whole demo in one foreground command: migrate, seed, then web, worker and beat."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deployments import runs


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_port: int | None = None  # wait until this loopback port accepts connections
    process: subprocess.Popen[bytes] | None = None


class Command(BaseCommand):
    help = (
        "Migrate, seed and run the Azure emulator, the web server, a Celery worker and beat "
        "until Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo")
        # A first mirror of every demo tenant as soon as the worker starts; beat keeps it fresh.
        queued = runs.sync_all_tenants()
        self.stdout.write(f"Queued a first sync of {len(queued)} tenant(s).")
        children = self._children(host, port)
        # Ctrl-C arrives here as KeyboardInterrupt; SIGTERM (e.g. from a supervisor) stops the
        # children the same way.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            for child in children:
                # Own process group: the terminal's Ctrl-C reaches only this command, which then
                # stops each child exactly once.
                child.process = subprocess.Popen(
                    child.argv, cwd=settings.BASE_DIR, start_new_session=True
                )
                if child.ready_port:
                    self._wait_for_port(child)
            self.stdout.write(
                self.style.SUCCESS(f"Managed Apps Portal demo: http://{host}:{port}/")
                + f"\n  Operator sign-in: http://{host}:{port}/admin/ (operator / operator)"
                + "\n  Press Ctrl-C to stop."
            )
            self._wait_until_one_exits(children)
        except KeyboardInterrupt:
            self.stdout.write("Stopping...")
        finally:
            self._stop(children)

    def _children(self, host: str, port: int) -> list[Child]:
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "portal"]
        children = []
        if settings.DEMO_RUNS_EMULATOR:
            https_port = urlsplit(settings.EMULATOR_URL).port
            signin_port = urlsplit(settings.EMULATOR_SIGNIN_URL).port
            emulator = [python, "-m", "emulator", "--scenario", "demo"]
            emulator += ["--port", str(https_port), "--http-port", str(signin_port)]
            emulator += ["--var-dir", str(settings.VAR_DIR)]
            if settings.MARKETPLACE_WEBHOOK_SECRET:
                # Purchases and changes made in the emulator notify the portal, as Azure would.
                hook = f"http://{host}:{port}/{settings.MARKETPLACE_WEBHOOK_PATH}"
                emulator += [
                    "--notification-url",
                    f"{hook}?sig={settings.MARKETPLACE_WEBHOOK_SECRET}",
                ]
            children.append(Child("emulator", emulator, ready_port=https_port))
        children += [
            Child("web", [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"]),
            Child(
                "worker",
                [*celery, "worker", "--loglevel=INFO", "--concurrency=2", "--without-gossip"],
            ),
            Child("beat", [*celery, "beat", "--loglevel=INFO"]),
        ]
        return children

    def _wait_for_port(self, child: Child) -> None:
        assert child.process is not None and child.ready_port is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise CommandError(f"{child.name} exited during start-up")
            with socket.socket() as probe:
                probe.settimeout(0.5)
                if probe.connect_ex(("127.0.0.1", child.ready_port)) == 0:
                    return
            time.sleep(0.2)
        raise CommandError(f"{child.name} did not start listening on port {child.ready_port}")

    def _wait_until_one_exits(self, children: list[Child]) -> None:
        while True:
            for child in children:
                assert child.process is not None
                code = child.process.poll()
                if code is not None:
                    self.stderr.write(f"{child.name} exited with code {code}; stopping the demo.")
                    return
            time.sleep(0.5)

    def _stop(self, children: list[Child]) -> None:
        # A second Ctrl-C must not abandon children half-stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        running = [c.process for c in children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            # Each child leads a session of its own: what it left behind (a killed Celery
            # worker's pool processes) goes too, or it would hold the terminal's output open.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
