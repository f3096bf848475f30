"""Asks this machine's web process for /healthz; exits 0 when it answers 200, 1 otherwise.

The container's HEALTHCHECK runs it. Standard library only: it starts in milliseconds and does
not load Django. It asks gunicorn directly (port from WEB_BIND or PORT, as gunicorn.conf.py
binds) with the portal's first ALLOWED_HOSTS name as Host, since Django refuses other names.
"""

from __future__ import annotations

import http.client
import os
import sys


def web_port() -> int:
    bind = os.environ.get("WEB_BIND") or f"0.0.0.0:{os.environ.get('PORT') or 8000}"
    return int(bind.rsplit(":", 1)[1])


def host_name() -> str:
    first = (os.environ.get("ALLOWED_HOSTS") or "localhost").split(",")[0].strip()
    # ".example.com" allows example.com and its subdomains; "*" allows any name.
    first = first.lstrip(".")
    return "localhost" if first in ("", "*") else first


def main() -> int:
    connection = http.client.HTTPConnection("127.0.0.1", web_port(), timeout=5)
    try:
        connection.request("GET", "/healthz", headers={"Host": host_name()})
        status = connection.getresponse().status
    except OSError as exc:
        print(f"/healthz: {type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"/healthz answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
