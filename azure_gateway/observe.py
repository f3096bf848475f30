"""Counting ARM's answers: a Prometheus counter per operation and status, and a tally per block.

`ObservePolicy` sits right after the retry policy in every ARM pipeline (pipeline.py), so it sees
each HTTP attempt, the retried 429s and 5xx included. The operation label is the method and the
path as a template (`arm_operation`): ids and names become `{}`, provider namespaces and resource
types stay, the query string goes. That keeps the label's values few whatever is synced.

`count_responses()` tallies the answers received inside a `with` block of the same thread (or
asyncio task), e.g. for a sync run to store its calls and throttled calls.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy
from azure.core.rest import HttpRequest
from prometheus_client import Counter

ARM_REQUESTS = Counter(
    "portal_arm_requests",
    "HTTP attempts to ARM (retries included), by operation and status class (429 apart)",
    ["operation", "status"],
)

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
PLACEHOLDER = "{}"


def arm_path_template(path: str) -> str:
    """`/subscriptions/<id>/resourceGroups/<name>/providers/Microsoft.Solutions/applications/<name>`
    → `/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Solutions/applications/{}`.

    ARM paths alternate a type and a name (`subscriptions/<id>`, `resourceGroups/<name>`,
    `applications/<name>`); `providers` is followed by a namespace, then the pairs again. Types,
    namespaces and trailing actions (`/listTokens`) are kept, names replaced, GUIDs always.
    """
    path = urlsplit(path).path
    template: list[str] = []
    expecting = "type"
    for segment in path.strip("/").split("/"):
        if not segment:
            continue
        if expecting == "namespace":
            expecting = "type"
        elif expecting == "type" and segment.lower() == "providers":
            expecting = "namespace"
        elif expecting == "type":
            expecting = "name"
        else:
            segment, expecting = PLACEHOLDER, "type"
        template.append(PLACEHOLDER if _GUID.fullmatch(segment) else segment)
    return "/" + "/".join(template)


def arm_operation(method: str, url: str) -> str:
    return f"{method.upper()} {arm_path_template(url)}"


def status_class(status: int) -> str:
    if status == 429:
        return "429"
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


@dataclass
class ResponseCount:
    calls: int = 0
    throttled: int = 0


_tallies: contextvars.ContextVar[tuple[ResponseCount, ...]] = contextvars.ContextVar(
    "azure_gateway_response_tallies", default=()
)


@contextmanager
def count_responses() -> Iterator[ResponseCount]:
    """ARM's answers within the block: `.calls` every HTTP response (each retry too),
    `.throttled` the 429s among them. Blocks may nest; each counts what happens inside it."""
    tally = ResponseCount()
    token = _tallies.set((*_tallies.get(), tally))
    try:
        yield tally
    finally:
        _tallies.reset(token)


def record_response(operation: str, status: int | None) -> None:
    """One attempt's outcome (status None: no answer, e.g. the connection failed)."""
    ARM_REQUESTS.labels(
        operation=operation, status="error" if status is None else status_class(status)
    ).inc()
    if status is None:
        return
    for tally in _tallies.get():
        tally.calls += 1
        if status == 429:
            tally.throttled += 1


class ObservePolicy(HTTPPolicy[HttpRequest, Any]):
    """Counts each HTTP attempt; placed after the retry policy (a per-retry policy)."""

    def send(self, request: PipelineRequest[HttpRequest]) -> PipelineResponse[HttpRequest, Any]:
        operation = arm_operation(request.http_request.method, request.http_request.url)
        try:
            response = self.next.send(request)
        except Exception:
            record_response(operation, None)
            raise
        record_response(operation, response.http_response.status_code)
        return response
