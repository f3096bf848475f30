"""gunicorn's settings for the portal's web process: `gunicorn --config gunicorn.conf.py`.

Read from the environment, like portal/settings.py (docs/operations.md lists the variables):
WEB_BIND (or PORT), WEB_CONCURRENCY, WEB_TIMEOUT, and BEHIND_TLS_PROXY / FORWARDED_ALLOW_IPS.
"""

from __future__ import annotations

import os
from typing import Any

from portal.env import env_bool, env_int, env_str

wsgi_app = "portal.wsgi:application"

# Platforms that run a Procfile give the port in PORT; WEB_BIND names the whole address.
bind = [env_str("WEB_BIND", f"0.0.0.0:{env_int('PORT', 8000, minimum=1)}")]

# Sync workers, each serving one request at a time: the pages are short database reads, and
# nothing in a request waits on Azure for long (the work is queued for Celery).
workers = env_int("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8), minimum=1)
# A worker silent for this long is killed and replaced; on SIGTERM, requests in progress get
# graceful_timeout seconds to finish.
timeout = env_int("WEB_TIMEOUT", 30, minimum=1)
graceful_timeout = 30
# The TLS proxy in front keeps connections open to gunicorn; a little longer than gunicorn's
# default 2 seconds spares it a reconnect per request.
keepalive = 5
# The workers' heartbeat files on tmpfs: an overlay file system (containers) can stall them.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# No control socket (gunicornc): it would be created under $HOME, which is read-only in the
# image. Signals do the same (HUP reloads the workers, TTIN/TTOU add or remove one).
control_socket_disable = True

# Errors to the process's output (journald, `docker compose logs`). No gunicorn access log: the
# portal writes one access line per request itself (portal/request_context.py: request id,
# person, client, duration; the path without its query string, where the marketplace
# notification carries its secret and the sign-in callback its code).
accesslog = None
errorlog = "-"

# Whom gunicorn believes about X-Forwarded-Proto and friends: the same answer as Django's
# (portal/settings.py trusts X-Forwarded-Proto with PRODUCTION and BEHIND_TLS_PROXY, both on
# by default behind a proxy). Behind the proxy, every address by default: only the proxy can
# reach gunicorn (keep it so), and FORWARDED_ALLOW_IPS narrows it to the proxy's addresses.
# Otherwise no one: a client could claim HTTPS for a plain-HTTP request.
if env_bool("PRODUCTION", False) and env_bool("BEHIND_TLS_PROXY", True):
    forwarded_allow_ips = env_str("FORWARDED_ALLOW_IPS", "*")
else:
    forwarded_allow_ips = ""


def child_exit(server: Any, worker: Any) -> None:
    """Prometheus's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, see portal/metrics.py): a
    worker that exits stops counting in the live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
