"""The logs of a whole demo journey hold no secret: the demo's processes (emulator, web, worker,
beat) run as `manage.py demo` starts them, while a publisher signs in and asks for access, a
customer admin decides in "the Azure portal", Azure posts notifications (one with a wrong
secret), and both sign out. Everything the processes printed is then searched."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from portal.log_redaction import redact
from tests.conftest import ALICE, PAT
from tests.portal.test_demo_command import ROOT, _free_port

SECRET_KEY = "journey-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
EMULATOR_SECRETS = (
    "portal-emulator-secret",
    "publisher-emulator-secret",
    "emulator-webhook-secret",
)
# What a secret looks like when nobody knows its value in advance.
PATTERNS = {
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\."),
    "bearer token": re.compile(r"(?i)bearer\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]{8,}"),
    "secret in a query": re.compile(
        r"(?i)[?&](sig|code|client_secret|refresh_token|access_token|password)=(?!\[redacted\])"
    ),
    "Fernet token": re.compile(r"gAAAAA[A-Za-z0-9_-]{20,}"),
    "password field": re.compile(r"(?i)password['\"]?\s*[:=]\s*['\"]?(?!\[redacted\])\w{4,}"),
}


def test_redaction_blanks_what_the_patterns_catch() -> None:
    line = (
        'POST /hooks/marketplace/resource?sig=s3cr3t-value HTTP/1.1 "Authorization: Bearer abc.def"'
        " /callback/?code=0.AXoA-long-code&state=x eyJhbGciOi.eyJzdWIiOi.c2ln"
    )
    cleaned = redact(line)
    assert "s3cr3t-value" not in cleaned and "long-code" not in cleaned
    assert "abc.def" not in cleaned and "eyJhbGciOi" not in cleaned
    assert "state=x" in cleaned  # what is not secret stays readable


class Person:
    """A browser's part of the journey, played by a requests session."""

    def __init__(self, portal: str):
        self.portal = portal
        self.session = requests.Session()
        self.codes: list[str] = []

    def csrf(self, path: str) -> str:
        page = self.session.get(self.portal + path)
        assert page.status_code == 200, (path, page.status_code)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert match is not None, path
        return match.group(1)

    def post(
        self, path: str, data: dict[str, str], form_path: str | None = None
    ) -> requests.Response:
        token = self.csrf(form_path or path)
        return self.session.post(
            self.portal + path,
            data={"csrfmiddlewaretoken": token, **data},
            headers={"Referer": self.portal + (form_path or path)},
        )

    def sign_in(self, object_id: uuid.UUID | str) -> None:
        started = self.session.post(
            f"{self.portal}/auth/entra/login/?process=login",
            data={"csrfmiddlewaretoken": self.csrf("/auth/login/")},
            headers={"Referer": f"{self.portal}/auth/login/"},
            allow_redirects=False,
        )
        authorize = urlsplit(started.headers["Location"])
        params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
        chosen = self.session.post(
            f"{authorize.scheme}://{authorize.netloc}{authorize.path}",
            data={**params, "emulator_user": str(object_id)},
            allow_redirects=False,
        )
        callback = chosen.headers["Location"]
        self.codes.append(parse_qs(urlsplit(callback).query)["code"][0])
        assert self.session.get(callback).status_code == 200

    def sign_out(self) -> None:
        self.post("/auth/logout/", {}, form_path="/")

    def secrets(self) -> list[str]:
        return [
            *self.codes,
            *(cookie.value for cookie in self.session.cookies if cookie.value is not None),
        ]


def wait_for(
    query: str, args: tuple[object, ...], database: Path, timeout: float = 90
) -> tuple[Any, ...]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as db:
            row: tuple[Any, ...] | None = db.execute(query, args).fetchone()
        if row:
            return row
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for: {query} {args}")


def test_json_lines_are_redacted_value_by_value_and_stay_json() -> None:
    import logging

    from portal.log_context import JsonLineFormatter

    record = logging.LogRecord(
        "portal.test",
        logging.INFO,
        __file__,
        1,
        'GET /cb/?code=0.AXoA-long-code "%s"',
        ("x",),
        None,
    )
    record.url = "/hooks/marketplace/resource?sig=s3cr3t-value"
    line = JsonLineFormatter("%(levelname)s %(name)s %(message)s").format(record)
    data = json.loads(line)
    assert "long-code" not in line and "s3cr3t-value" not in line
    assert data["url"] == "/hooks/marketplace/resource?sig=[redacted]"


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_whole_demo_journey_logs_no_token_secret_or_password(
    tmp_path: Path, log_format: str
) -> None:
    port, emulator_port, signin_port = _free_port(), _free_port(), _free_port()
    portal = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}} | {
        "DEBUG": "true",
        "SECRET_KEY": SECRET_KEY,
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "EMULATOR_URL": f"https://127.0.0.1:{emulator_port}",
        "EMULATOR_SIGNIN_URL": f"http://127.0.0.1:{signin_port}",
        "JIT_WATCH_INTERVAL": "1",
        "LOG_FORMAT": log_format,
    }
    log = tmp_path / "demo.log"
    database = tmp_path / "portal.sqlite3"
    with log.open("w") as output:
        demo = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    people = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{portal}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        (app_pk,) = wait_for(
            "SELECT a.id FROM deployments_managedapplication a"
            " JOIN accounts_tenant t ON t.id = a.customer_tenant_id"
            " WHERE t.display_name LIKE 'Fabrikam%' AND a.jit_enabled"
            " AND a.jit_approval_mode = 'ManualApprove' ORDER BY a.id",
            (),
            database,
        )

        pat = Person(portal)
        people.append(pat)
        pat.sign_in(PAT)
        for path in ("/", "/apps/customers/", "/jit/", f"/apps/applications/{app_pk}/"):
            assert pat.session.get(portal + path).status_code == 200, path
        form = pat.session.get(f"{portal}/jit/apps/{app_pk}/request/").text
        role_option = re.search(r'<select name="role"[^>]*>\s*<option value="([^"]+)"', form)
        assert role_option is not None, form[:500]
        role = role_option.group(1)
        asked = pat.post(
            f"/jit/apps/{app_pk}/request/",
            {
                "role": role,
                "start_now": "1",
                "hours": "1",
                "justification": "Journey: checking the logs for secrets",
            },
        )
        assert asked.status_code == 200, asked.text[:300]
        jit_pk, arm_id = wait_for(
            "SELECT id, arm_id FROM jit_jitrequest WHERE justification LIKE 'Journey:%'"
            " AND state = 'Pending'",
            (),
            database,
        )

        alice = Person(portal)
        people.append(alice)
        alice.sign_in(ALICE)
        detail = f"/jit/requests/{uuid_text(jit_pk)}/"
        assert alice.session.get(portal + detail).status_code == 200
        alice.post(
            f"{detail}decide/",
            {"decision": "approve", "justification": "Journey approval"},
            form_path=detail,
        )
        decided = requests.post(
            f"https://127.0.0.1:{emulator_port}/_emulator/act/decide",
            json={"as": str(ALICE), "jit_request_id": arm_id, "decision": "Approve"},
            verify=str(tmp_path / "emulator" / "ca.pem"),
            timeout=10,
        )
        assert decided.status_code == 200, decided.text
        wait_for(
            "SELECT 1 FROM jit_jitrequest WHERE id = ? AND state = 'Approved'", (jit_pk,), database
        )

        hook = f"{portal}/hooks/marketplace/resource"
        body = json.dumps({"eventType": "PUT", "applicationId": "/nowhere"})
        headers = {"Content-Type": "application/json"}
        requests.post(f"{hook}?sig=emulator-webhook-secret", data=body, headers=headers)
        requests.post(f"{hook}?sig=a-wrong-guess-of-the-secret", data=body, headers=headers)
        pat.sign_out()
        alice.sign_out()
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=40)

    text = log.read_text()
    (Path(os.environ.get("JOURNEY_LOG", tmp_path / "journey.log"))).write_text(text)
    known = [SECRET_KEY, *EMULATOR_SECRETS, "a-wrong-guess-of-the-secret"]
    for person in people:
        known += [value for value in person.secrets() if len(value) >= 8]
    if log_format == "json":
        # The portal's lines (the emulator's and the servers' banners are not its own) parse.
        portal_lines = [line for line in text.splitlines() if line.startswith("{")]
        assert len(portal_lines) > 20
        parsed = [json.loads(line) for line in portal_lines]
        assert any(line.get("logger") == "portal.access" for line in parsed)
        assert any(line.get("task_id") for line in parsed)
    leaks = [value for value in known if value in text]
    leaks += [name for name, pattern in PATTERNS.items() if pattern.search(text)]
    print(
        f"searched {len(text.splitlines())} log lines for {len(known)} known secrets "
        f"and {len(PATTERNS)} patterns: {len(leaks)} found"
    )
    assert leaks == [], (
        "\n".join(line for line in text.splitlines() if any(leak in line for leak in leaks))[:3000]
        or leaks
    )


def uuid_text(value: str) -> str:
    """The request's primary key as SQLite stores it (32 hex digits), in its URL spelling."""
    import uuid

    return str(uuid.UUID(value))
