"""What every log line says about where it comes from: the request, the person, the task.

The fields live in a context variable, so they follow the code that handles one request or one
task without being passed around, and every `logging.getLogger(__name__)` in the project gets
them for free: `ContextFilter`, on the handler in settings.LOGGING, copies them onto each record.
The JSON formatter writes them as fields; the console formatter appends them to the line.

Why python-json-logger and not structlog: the project logs through the standard library
everywhere; a formatter plus a filter is all it takes to turn those lines into JSON, with no
second logging API to learn and no call sites to change.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from portal.log_redaction import RedactingFormatter, redact

# The fields, in the order the console shows them.
CONTEXT_FIELDS = ("request_id", "tenant", "user", "task", "task_id")

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "portal_log_context", default=MappingProxyType({})
)


def current() -> Mapping[str, str]:
    return _context.get()


def bind(**fields: object) -> None:
    """Add fields to the current context (None values are left out)."""
    _context.set(
        {
            **_context.get(),
            **{key: str(value) for key, value in fields.items() if value is not None},
        }
    )


@contextmanager
def scope(**fields: object) -> Iterator[None]:
    """A fresh context holding these fields for the block; the previous one comes back after."""
    token = _context.set({key: str(value) for key, value in fields.items() if value is not None})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the context's fields onto each record (an `extra=` of the same name wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class ConsoleFormatter(RedactingFormatter):
    """The readable line of the demo and the tests, with the context at its end:
    `... GET /jit/ 200 12ms [request_id=… user=3]`."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [
            f"{key}={getattr(record, key)}"
            for key in CONTEXT_FIELDS
            if getattr(record, key, None) is not None
        ]
        return f"{line} [{' '.join(fields)}]" if fields else line


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return redact(str(value))


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line, for production's log collectors.

    Redaction (portal/log_redaction.py) applies to every value before it is serialized, rather than
    to the finished line as RedactingFormatter does: a pattern cut out of an escaped JSON string
    could take a backslash with it and break the line.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _redacted(value) for key, value in log_data.items()}


# Celery tasks -----------------------------------------------------------------------------------

task_log = logging.getLogger("portal.task_runs")
_task_scopes: dict[str, tuple[contextvars.Token[Mapping[str, str]], float]] = {}


def task_started(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    """celery's task_prerun: the task's id and name go into the context until it ends."""
    if task_id is None:
        return
    # A task run eagerly inside a request keeps the request's id beside its own.
    outer = {key: value for key, value in _context.get().items() if key == "request_id"}
    token = _context.set({**outer, "task": getattr(task, "name", "?"), "task_id": task_id})
    _task_scopes[task_id] = (token, time.monotonic())


def task_finished(task_id: str | None = None, state: str | None = None, **_kwargs: Any) -> None:
    """celery's task_postrun: one line with the task's outcome and duration, then the context
    the task started in comes back."""
    if task_id is None or task_id not in _task_scopes:
        return
    token, started = _task_scopes.pop(task_id)
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    task_log.info(
        "Task finished: %s in %sms",
        state or "?",
        duration_ms,
        extra={"state": state, "duration_ms": duration_ms},
    )
    try:
        _context.reset(token)
    except ValueError:  # the task ran in another context than it started in
        _context.set({})
