"""The project: settings, URLs, the Celery app, and the plumbing every app shares.

Plumbing means what has no domain of its own: reading the environment (`env`), health and
readiness, rate limits, security headers, log redaction and log context (`log_context`,
`request_context`), Prometheus metrics (`metrics`), queueing on commit, outage pages, mail
settings, time and GUID helpers, and `manage.py check_azure` with its checks
(`azure_readiness`). The apps may import any of it; it imports the apps only where it wires them
together (URLs, the context processor, the demo and readiness commands, the metrics' gauges)
or reads them all (the operations dashboard, `portal.operations`).
"""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
