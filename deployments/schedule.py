"""Periodic work of the deployments app, merged into Celery beat by portal/celery.py.

django-celery-beat copies these entries into the database on start, where operators can change
their intervals in the admin.
"""

BEAT_SCHEDULE = {
    "deployments-sync-all-tenants": {
        "task": "deployments.sync_all_tenants",
        "schedule": 15 * 60.0,
    },
    "deployments-send-unsent-change-mails": {
        "task": "deployments.send_unsent_change_mails",
        "schedule": 5 * 60.0,
    },
    "deployments-prune-sync-runs": {
        "task": "deployments.prune_sync_runs",
        "schedule": 24 * 60 * 60.0,
    },
    "deployments-prune-old-records": {
        "task": "deployments.prune_old_records",
        "schedule": 24 * 60 * 60.0,
    },
}
