"""Checks for /healthz and /readyz. They report yes/no and a short reason, never a URL or secret."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from kombu import Connection


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return Check(False, type(exc).__name__)
    return Check(True, connection.vendor)


def check_broker() -> Check:
    url: str = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        if os.path.isdir(folder) and os.access(folder, os.W_OK):
            return Check(True, "filesystem")
        return Check(False, "queue folder missing or not writable")
    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            conn.default_channel.client.ping()  # type: ignore[attr-defined]  # redis channel
    except Exception as exc:
        return Check(False, type(exc).__name__)
    return Check(True, "redis")


def check_migrations() -> Check:
    """Every migration this code knows of is applied (what `migrate --check` asks)."""
    try:
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return Check(False, type(exc).__name__)
    if unapplied:
        return Check(False, f"{len(unapplied)} unapplied")
    return Check(True, "all applied")
