"""Typed readers for environment variables that fail loudly on nonsense."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str, environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(name, default)


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false, 1/0, yes/no), got {raw!r}")


def env_int(
    name: str,
    default: int,
    environ: Mapping[str, str] = os.environ,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {value}")
    return value


def env_list(name: str, default: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(
    name: str, default: str, choices: tuple[str, ...], environ: Mapping[str, str] = os.environ
) -> str:
    value = environ.get(name, default).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def env_secret(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """A secret from NAME, or from the file named by NAME_FILE (for container secrets)."""
    value = environ.get(name)
    file_name = environ.get(f"{name}_FILE")
    if value and file_name:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both")
    if file_name:
        path = Path(file_name)
        if not path.is_file():
            raise ImproperlyConfigured(f"{name}_FILE points at {file_name}, which is not a file")
        value = path.read_text().strip()
    return value or None


def parse_name_map(name: str, raw: str) -> dict[str, str]:
    """ "key=Value,key=Value" into a dict; keys lower-cased (they are object ids)."""
    mapping: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, separator, value = item.partition("=")
        if not separator or not key.strip() or not value.strip():
            raise ImproperlyConfigured(f"{name} must look like 'objectid=Name,objectid=Name'")
        mapping[key.strip().lower()] = value.strip()
    return mapping


_JIT_SCOPE = re.compile(
    r"/subscriptions/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"/resourceGroups/[-\w._()]{1,90}",
    re.IGNORECASE,
)


def parse_jit_scope(name: str, raw: str) -> str:
    """A resource group id, "application", or empty (not configured)."""
    value = raw.strip().rstrip("/")
    if value in ("", "application") or _JIT_SCOPE.fullmatch(value):
        return value
    raise ImproperlyConfigured(
        f"{name} must be '/subscriptions/<subscription id>/resourceGroups/<name>' or 'application'"
    )


def parse_url_template(name: str, raw: str, fields: tuple[str, ...]) -> str:
    """An http(s) URL with `{field}` placeholders, checked by filling each one in."""
    try:
        filled = raw.format(**dict.fromkeys(fields, "x"))
    except (KeyError, IndexError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"{name} may only use the placeholders {', '.join('{' + f + '}' for f in fields)}"
        ) from exc
    if not filled.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"{name} must be an http(s) URL")
    return raw


_RATE = re.compile(r"[1-9][0-9]{0,6}/[1-9]?[0-9]*[smhd]")


def env_rate(name: str, default: str, environ: Mapping[str, str] = os.environ) -> str:
    """A rate limit such as "20/m" (requests per second, minute, hour or day; "100/5m" too)."""
    value = env_str(name, default, environ).strip()
    if not _RATE.fullmatch(value):
        raise ImproperlyConfigured(f'{name} must be a rate such as "20/m" or "100/5m"')
    return value


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_BUSINESS_HOURS = re.compile(
    r"(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d\d:\d\d)-(?P<end>\d\d:\d\d)"
)


@dataclass(frozen=True)
class BusinessHours:
    days: tuple[int, ...]  # 0 is Monday
    start: dt.time
    end: dt.time

    def __str__(self) -> str:
        first, last = _DAYS[self.days[0]].title(), _DAYS[self.days[-1]].title()
        week = first if first == last else f"{first} to {last}"
        return f"{week} {self.start:%H:%M} to {self.end:%H:%M}"

    def include(self, moment: dt.datetime) -> bool:
        return moment.weekday() in self.days and self.start <= moment.time() < self.end


def parse_business_hours(name: str, raw: str) -> BusinessHours:
    """ "Mon-Fri 08:00-18:00": the days (Monday first) and the hours of a working week."""
    match = _BUSINESS_HOURS.fullmatch(raw.strip().lower())
    problem = f'{name} must look like "Mon-Fri 08:00-18:00" (days Mon..Sun, 24-hour times)'
    if not match or match["first"] not in _DAYS or (match["last"] or "mon") not in _DAYS:
        raise ImproperlyConfigured(problem)
    first = _DAYS.index(match["first"])
    last = _DAYS.index(match["last"]) if match["last"] else first
    start, end = match["start"], match["end"]
    for moment in (start, end):
        hours, minutes = int(moment[:2]), int(moment[3:])
        if hours > 23 or minutes > 59:
            raise ImproperlyConfigured(problem)
    if last < first or end <= start:
        raise ImproperlyConfigured(problem + ", the first day and time before the last")
    return BusinessHours(
        tuple(range(first, last + 1)), dt.time.fromisoformat(start), dt.time.fromisoformat(end)
    )


def parse_time_zone(name: str, raw: str) -> str:
    """An IANA time zone name such as "Europe/Berlin"."""
    import zoneinfo

    value = raw.strip()
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ImproperlyConfigured(f'{name} must be a time zone such as "Europe/Berlin"') from exc
    return value
