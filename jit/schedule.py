"""Celery beat entries of the jit app, merged into the portal's schedule. No Django imports."""

BEAT_SCHEDULE = {
    "jit-reconcile": {"task": "jit.reconcile_requests", "schedule": 60.0},
    "jit-timeout-warnings": {"task": "jit.send_timeout_warnings", "schedule": 300.0},
    "jit-approval-windows": {"task": "jit.run_approval_windows", "schedule": 60.0},
    "jit-requeue-stale-operations": {"task": "jit.requeue_stale_operations", "schedule": 120.0},
}
