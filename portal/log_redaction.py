"""A log formatter that blanks secrets out of every line, whoever logged it.

Azure authenticates marketplace notifications with `?sig=<secret>` in the URL and Entra returns
the authorization code in the callback's query string, so plain request logging (runserver,
gunicorn's access log, a traceback) would write them down. Redacting the formatted line covers
messages, arguments and tracebacks alike.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings

_QUERY_SECRET = re.compile(
    r"(?i)\b(sig|code|client_secret|client_assertion|refresh_token|access_token|id_token"
    r"|password|secret|token)=[^&\s\"'<>]+"
)
_BEARER = re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_SECRET_SETTINGS = (
    "SECRET_KEY",
    "ENTRA_CLIENT_SECRET",
    "PUBLISHER_CLIENT_SECRET",
    "MARKETPLACE_WEBHOOK_SECRET",
    "EMAIL_HOST_PASSWORD",
    "METRICS_TOKEN",
)
REDACTED = "[redacted]"


def _configured_secrets() -> list[str]:
    if not settings.configured:
        return []
    values = [getattr(settings, name, None) for name in _SECRET_SETTINGS]
    values += list(getattr(settings, "TOKEN_ENCRYPTION_KEYS", []))
    # Short values would blank out ordinary words; every real secret is longer.
    return [value for value in values if isinstance(value, str) and len(value) >= 8]


def redact(text: str) -> str:
    text = _QUERY_SECRET.sub(lambda match: f"{match.group(1)}={REDACTED}", text)
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    for secret in _configured_secrets():
        text = text.replace(secret, REDACTED)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
