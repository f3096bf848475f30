"""Reachability checks for /healthz. They report yes/no and a short reason, never a URL or secret."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
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
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        if os.path.isdir(folder) and os.access(folder, os.W_OK):
            return Check(True, "filesystem")
        return Check(False, "queue folder missing or not writable")
    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            conn.default_channel.client.ping()
    except Exception as exc:
        return Check(False, type(exc).__name__)
    return Check(True, "redis")
