"""Turn EMAIL_URL into Django's e-mail settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class EmailSettings:
    backend: str
    file_path: str | None = None
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False


def email_settings_from_url(url: str, *, var_dir: Path) -> EmailSettings:
    """Supported: file:///path (one file per message), console://, smtp://, smtp+tls://, smtps://."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        folder = Path(parts.path) if parts.path else var_dir / "mail"
        folder.mkdir(parents=True, exist_ok=True)
        return EmailSettings(
            backend="django.core.mail.backends.filebased.EmailBackend", file_path=str(folder)
        )
    if scheme == "console":
        return EmailSettings(backend="django.core.mail.backends.console.EmailBackend")
    if scheme in {"smtp", "smtp+tls", "smtps"}:
        if not parts.hostname:
            raise ImproperlyConfigured("EMAIL_URL needs a host, e.g. smtp+tls://user:pass@host:587")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("EMAIL_URL has an invalid port") from None
        default_port = {"smtp": 25, "smtp+tls": 587, "smtps": 465}[scheme]
        return EmailSettings(
            backend="django.core.mail.backends.smtp.EmailBackend",
            host=parts.hostname,
            port=port or default_port,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            use_tls=scheme == "smtp+tls",
            use_ssl=scheme == "smtps",
        )
    raise ImproperlyConfigured(
        "EMAIL_URL must start with file://, console://, smtp://, smtp+tls:// or smtps://"
    )
