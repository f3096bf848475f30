"""The errors the gateway raises: Azure SDK exceptions translated at the boundary.

Each carries ARM's error code and message (never a token), so callers can retry `Throttled` and
`Transient` and record the others on the row for the UI.
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Iterator
from typing import Any

from azure.core.exceptions import AzureError as SdkAzureError
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

# Used when a 429 or 503 arrives without a usable Retry-After header.
DEFAULT_RETRY_AFTER = 10.0


class AzureError(Exception):
    """A call to Azure failed; `code` and `message` come from ARM's error envelope when it sent one."""

    def __init__(
        self, message: str, *, code: str = "", status: int | None = None, request_id: str = ""
    ) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id  # ARM's x-ms-request-id, for support cases


class AuthenticationFailed(AzureError):
    """No usable token: Entra refused the credential, or ARM rejected the token (401)."""


class Forbidden(AzureError):
    """403: RBAC or a deny assignment does not allow the caller to do this."""


class NotFound(AzureError):
    """404: the resource (or its subscription or resource group) does not exist."""


class Conflict(AzureError):
    """409: the resource is busy or exists with other content; retrying as-is will not help."""


class BadRequest(AzureError):
    """400: ARM rejected the request's content (validation); retrying as-is will not help."""


class OperationFailed(AzureError):
    """A long-running operation ended `Failed` or `Canceled`."""


class Transient(AzureError):
    """A 5xx, a timeout or a broken connection: worth retrying with backoff."""


class Throttled(Transient):
    """429: try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from `Retry-After` (seconds or an HTTP date) or the `retry-after-ms` variants."""
    if headers is None:
        return None
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value.strip() else None
            if parsed is not None and parsed.tzinfo is not None:
                return max(0.0, parsed.timestamp() - time.time())
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000)
            except ValueError:
                continue
    return None


def _code_and_message(exc: SdkAzureError) -> tuple[str, str]:
    error = getattr(exc, "error", None)  # ODataV4Format parsed from ARM's {"error": {...}}
    code = getattr(error, "code", None) or ""
    message = getattr(error, "message", None) or ""
    if not message:
        message = str(getattr(exc, "message", "") or exc).splitlines()[0]
    return str(code), str(message)


def translate(exc: SdkAzureError) -> AzureError:
    """Our error for an azure-core exception."""
    code, message = _code_and_message(exc)
    response = getattr(exc, "response", None)
    headers = response.headers if response is not None else None
    status: int | None = getattr(exc, "status_code", None)
    details: dict[str, Any] = {
        "code": code,
        "status": status,
        "request_id": (headers or {}).get("x-ms-request-id", ""),
    }
    if isinstance(exc, ClientAuthenticationError) or status == 401:
        return AuthenticationFailed(message, **details)
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return NotFound(message, **details)
    if isinstance(exc, ResourceExistsError) or status == 409:
        return Conflict(message, **details)
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return Transient(message, **{**details, "code": code or type(exc).__name__})
    if status == 429:
        wait = retry_after_seconds(headers)
        return Throttled(
            message, retry_after=DEFAULT_RETRY_AFTER if wait is None else wait, **details
        )
    if status == 403:
        return Forbidden(message, **details)
    if status is not None and (status == 408 or status >= 500):
        return Transient(message, **details)
    if status == 400:
        return BadRequest(message, **details)
    if isinstance(exc, HttpResponseError) and status is not None and status < 400:
        # A long-running operation whose status poll answered Failed or Canceled.
        return OperationFailed(message, **details)
    return AzureError(message, **details)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Re-raise azure-core exceptions as the gateway's own errors.

    `from None`: the SDK exception holds the request, whose headers carry the bearer token.
    """
    try:
        yield
    except SdkAzureError as exc:
        raise translate(exc) from None
