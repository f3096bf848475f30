"""The wire format: JSON responses and request bodies, ARM's error envelope, ARM's date-time text."""

import datetime as dt
import functools
import json
from typing import Any

from werkzeug.wrappers import Response


class ArmError(Exception):
    """An error answered with ARM's envelope `{"error": {"code", "message", ...}}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        headers: dict[str, str] | None = None,
        additional_info: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers or {}
        self.additional_info = additional_info

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        error["details"] = []
        if self.additional_info:
            error["additionalInfo"] = self.additional_info
        return {"error": error}


# json.dumps' output, without the per-call check for reference cycles (bodies are plain trees).
JSON_ENCODER = json.JSONEncoder(check_circular=False)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = "" if body is None else JSON_ENCODER.encode(body)
    response = Response(text, status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(error: ArmError) -> Response:
    return json_response(error.body(), error.status, error.headers)


def not_found(kind: str, name: str, resource_group: str | None = None) -> ArmError:
    where = f" under resource group '{resource_group}'" if resource_group else ""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{kind}/{name}'{where} was not found. For more details please go to "
        "https://aka.ms/ARMResourceNotFoundFix",
    )


def parse_json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: '{exc}'.",
        ) from exc
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return body


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return _iso_text(moment)


@functools.lru_cache(maxsize=65_536)  # listings format the same stored times on every call
def _iso_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
