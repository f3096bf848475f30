"""The demo command starts web, worker and beat together and stops them all on Ctrl-C."""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _processes_with_env(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_demo_serves_pages_runs_tasks_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    port, emulator_port, signin_port = _free_port(), _free_port(), _free_port()
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}} | {
        "DEBUG": "true",
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "EMULATOR_URL": f"https://127.0.0.1:{emulator_port}",
        "EMULATOR_SIGNIN_URL": f"http://127.0.0.1:{signin_port}",
    }
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200

        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert b"Managed Apps Portal" in page

        # The demo's worker must consume what is queued on the demo's broker.
        queued = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); "
                "from portal.tasks import ping; print(ping.delay().get(timeout=30))",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert queued.stdout.strip() == "pong", queued.stderr
        assert len(_processes_with_env(str(tmp_path))) >= 4  # demo, web, worker, beat

        # The emulator answers over HTTPS with the CA it generated under the demo's var dir.
        context = ssl.create_default_context(cafile=str(tmp_path / "emulator" / "ca.pem"))
        with urllib.request.urlopen(
            f"https://127.0.0.1:{emulator_port}/organizations/v2.0/.well-known/openid-configuration",
            context=context,
            timeout=5,
        ) as discovery:
            assert json.load(discovery)["token_endpoint"].startswith("https://127.0.0.1:")

        # Pressing "Sign in with Microsoft" leads the browser to the emulator's plain-HTTP page.
        status, login_page = _get(f"http://127.0.0.1:{port}/auth/login/")
        assert b"Sign in with Microsoft" in login_page
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=40)

    assert f"http://127.0.0.1:{port}/" in output
    assert "beat: Starting" in output
    assert _processes_with_env(str(tmp_path)) == []
