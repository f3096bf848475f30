"""Structured logs: JSON lines with the request, person and task they belong to; the request id
echoed and never taken raw from a hostile header; redaction in JSON as on the console."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from django.test import Client
from pytest_django import Settings

from accounts.models import User
from portal import log_context
from portal.log_context import ConsoleFormatter, ContextFilter, JsonLineFormatter
from portal.request_context import request_id_from
from portal.tasks import ping
from tests.portal.test_settings import PRODUCTION_SECRET, _run_settings


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "portal.access"]


def _capture(formatter: logging.Formatter) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def json_logs() -> Iterator[Captured]:
    """What the production handler would write, one JSON object a line."""
    for stream in _capture(JsonLineFormatter("%(levelname)s %(name)s %(message)s")):
        yield Captured(stream)


@pytest.fixture
def console_logs() -> Iterator[io.StringIO]:
    yield from _capture(ConsoleFormatter("%(levelname)s %(name)s: %(message)s"))


def test_the_demo_and_tests_log_console_lines() -> None:
    from django.conf import settings

    assert settings.LOG_FORMAT == "console"
    handlers = cast(dict[str, dict[str, str]], settings.LOGGING["handlers"])
    assert handlers["console"]["formatter"] == "console"


def test_production_logs_json_lines_unless_told_otherwise(tmp_path: Path) -> None:
    env = {"VAR_DIR": str(tmp_path), "PRODUCTION": "true", "SECRET_KEY": PRODUCTION_SECRET}
    code = "import logging; logging.getLogger('portal.x').warning('hello ?sig=abcdefgh')"
    result = _run_settings(env, code)
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(text) for text in result.stderr.splitlines()]
    assert line["message"] == "hello ?sig=[redacted]" and line["logger"] == "portal.x"
    assert line["level"] == "WARNING"

    result = _run_settings({**env, "LOG_FORMAT": "console"}, code)
    assert result.stderr.strip().endswith("WARNING portal.x: hello ?sig=[redacted]")
    result = _run_settings({**env, "LOG_FORMAT": "xml"}, code)
    assert result.returncode != 0 and "LOG_FORMAT must be one of" in result.stderr


@pytest.mark.django_db
def test_a_request_logs_one_json_access_line_with_its_id_and_duration(
    client: Client, json_logs: Captured
) -> None:
    response = client.get("/healthz?probe=1", HTTP_X_REQUEST_ID="lb-1234.abc_DEF")
    assert response["X-Request-ID"] == "lb-1234.abc_DEF"
    (line,) = json_logs.access()
    assert line["request_id"] == "lb-1234.abc_DEF"
    assert line["method"] == "GET" and line["path"] == "/healthz" and line["status"] == 200
    assert line["view"] == "healthz"
    assert line["client"] == "127.0.0.1"  # the test client's REMOTE_ADDR
    assert isinstance(line["duration_ms"], float)
    assert "probe" not in json.dumps(line)  # never the query string
    assert line["level"] == "INFO"
    assert dt.datetime.fromisoformat(line["time"]).tzinfo is not None
    assert "T" in line["time"]


@pytest.mark.django_db
def test_a_missing_request_id_is_generated(client: Client, json_logs: Captured) -> None:
    response = client.get("/healthz")
    generated = response["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert json_logs.access()[0]["request_id"] == generated


@pytest.mark.parametrize(
    "hostile",
    [
        "abc\r\nX-Injected: yes",
        "x" * 10_000,
        "ünïcødé-id",
        "a b",
        "",
        "id;rm -rf",
        "x" * 65,
    ],
)
@pytest.mark.django_db
def test_a_hostile_request_id_is_replaced_and_never_logged(
    client: Client, json_logs: Captured, hostile: str
) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=hostile)
    echoed = response["X-Request-ID"]
    assert echoed != hostile and len(echoed) == 32
    text = json_logs.stream.getvalue()
    assert json_logs.access()[0]["request_id"] == echoed
    if hostile:
        assert hostile not in text


def test_request_ids_up_to_64_plain_characters_are_kept() -> None:
    assert request_id_from("a" * 64) == "a" * 64
    assert request_id_from("a" * 65) != "a" * 65


@pytest.mark.django_db
def test_lines_name_the_signed_in_person_by_pk_and_tenant_never_by_name(
    client: Client, json_logs: Captured, alice: User
) -> None:
    client.force_login(alice)
    assert client.get("/").status_code == 200
    (line,) = json_logs.access()
    assert line["user"] == str(alice.pk)
    assert line["tenant"] == str(alice.entra_tenant_id)
    text = json_logs.stream.getvalue()
    assert alice.display_name not in text and alice.username not in text


@pytest.mark.django_db
def test_an_anonymous_request_logs_no_person(client: Client, json_logs: Captured) -> None:
    client.get("/")
    (line,) = json_logs.access()
    assert "user" not in line and "tenant" not in line


def test_a_task_logs_its_id_name_and_duration(json_logs: Captured) -> None:
    result = ping.apply()
    assert result.get() == "pong"
    finished = [line for line in json_logs.lines() if line["logger"] == "portal.task_runs"]
    (line,) = finished
    assert line["task_id"] == result.id and line["task"] == "portal.ping"
    assert line["state"] == "SUCCESS" and isinstance(line["duration_ms"], float)
    assert log_context.current() == {}  # the task's context ends with it


def test_lines_logged_inside_a_task_carry_its_id(json_logs: Captured) -> None:
    with log_context.scope(request_id="outer"):
        log_context.task_started(task_id="t-1", task=ping)
        logging.getLogger("deployments.sync").warning("inside")
        log_context.task_finished(task_id="t-1", state="SUCCESS")
        assert log_context.current() == {"request_id": "outer"}
    inside = next(line for line in json_logs.lines() if line["message"] == "inside")
    assert inside["task_id"] == "t-1" and inside["request_id"] == "outer"


def test_secrets_are_redacted_in_json_lines_and_the_line_stays_json(
    json_logs: Captured, settings: Settings
) -> None:
    settings.METRICS_TOKEN = "metrics-token-0123456789"
    log = logging.getLogger("portal.test")
    log.info('POST /hooks/marketplace/resource?sig=s3cr3t-value "quoted\\" \u00e9')
    log.info("header Authorization: Bearer abc.def.ghi and %s", settings.METRICS_TOKEN)
    log.info(
        "extra", extra={"url": "/cb/?code=0.AXoA-long-code&state=x", "nested": {"a": "sig=zz9"}}
    )
    try:
        raise ValueError("token=eyJhbGciOi.eyJzdWIiOi.c2ln")
    except ValueError:
        log.exception("failed")
    text = json_logs.stream.getvalue()
    lines = json_logs.lines()  # every line still parses
    assert len(lines) == 4
    for leaked in ("s3cr3t-value", "abc.def.ghi", "metrics-token-0123456789", "long-code", "zz9"):
        assert leaked not in text, leaked
    assert "eyJhbGciOi" not in text
    assert lines[2]["url"] == "/cb/?code=[redacted]&state=x"
    assert "ValueError" in lines[3]["exc_info"]


def test_console_lines_carry_the_context_and_are_redacted(console_logs: io.StringIO) -> None:
    with log_context.scope(request_id="r-1", user=7):
        logging.getLogger("portal.test").info("GET /cb/?code=abcdefgh")
    (line,) = console_logs.getvalue().splitlines()
    assert line == "INFO portal.test: GET /cb/?code=[redacted] [request_id=r-1 user=7]"
