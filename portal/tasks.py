from celery import shared_task


@shared_task(name="portal.ping", ignore_result=False)
def ping() -> str:
    """Answers "pong": proves a worker is consuming from the broker (used by health checks)."""
    return "pong"
