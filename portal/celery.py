"""The Celery application. Task names are a wire contract: renaming one needs a plan."""

import importlib
import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

from portal import log_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

APPS_WITH_SCHEDULES = ("deployments", "jit")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _beat_schedule() -> dict[str, dict[str, object]]:
    """Each app's `schedule.BEAT_SCHEDULE`, merged."""
    schedule: dict[str, dict[str, object]] = {}
    for name in APPS_WITH_SCHEDULES:
        try:
            module = importlib.import_module(f"{name}.schedule")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.schedule":
                raise
            continue
        schedule.update(module.BEAT_SCHEDULE)
    return schedule


app.conf.beat_schedule = _beat_schedule()

# Every log line of a task carries its id and name, and each task ends with one line saying how
# long it took (portal/log_context.py).
task_prerun.connect(log_context.task_started, weak=False)
task_postrun.connect(log_context.task_finished, weak=False)
