"""Reading JSON from outside callers so that any body either parses into something every database
can store, or fails with a reason a caller can act on.

`json.loads` alone accepts what breaks later: `NaN` and `Infinity` (not JSON, and refused by
PostgreSQL's jsonb), integers of thousands of digits (Python refuses them past 4,300 digits with a
ValueError), nesting deep enough to exhaust the recursion limit, lone UTF-16 surrogates (no
encoder will write them) and NUL characters (PostgreSQL text and jsonb refuse them).
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 40


class InvalidJson(ValueError):
    """The body is not JSON this service accepts; the message says why."""


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise InvalidJson(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _finite_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS + 10:
        raise InvalidJson(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson("a number is too large")
    return value


def loads(raw: bytes | str) -> Any:
    """Parse `raw` (UTF-8) or raise InvalidJson."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidJson("the body is not UTF-8") from None
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_bounded_int,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise InvalidJson(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"the body is not JSON ({exc.msg} at character {exc.pos})") from None
    _check_storable(value)
    return value


def _check_storable(value: Any) -> None:
    """Walk the document without recursion: depth, and strings every database can hold."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise InvalidJson(f"the JSON is nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise InvalidJson("a string contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidJson("a string contains a lone UTF-16 surrogate") from None
