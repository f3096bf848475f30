"""The elevation timeline's rows (`Elevation`), from the JIT requests ARM lists."""

from __future__ import annotations

from typing import Any

from azure_gateway.records import JitRequestRecord
from deployments.models import Elevation, ManagedApplication


def elevation_values(request: JitRequestRecord) -> dict[str, Any] | None:
    """What the timeline keeps of a request: its first authorization and its window."""
    if not request.authorizations:
        return None
    authorization = request.authorizations[0]
    return {
        "principal_id": authorization.principal_id.lower(),
        "role_definition_id": authorization.role_definition_id.lower(),
        "state": request.state[:20],
        "start": request.start,
        "end": request.end,
    }


def elevation_upsert(application: ManagedApplication, request: JitRequestRecord) -> None:
    """Keep one request's bar on the application's timeline in step with ARM."""
    values = elevation_values(request)
    if values is None:
        return
    Elevation.objects.update_or_create(
        arm_id=request.id, defaults={"application": application, **values}
    )
