"""The scale-out proof (bench/scale_out.py) at a modest size: two web processes, two Celery
workers and one beat under a burst, against PostgreSQL and Redis. Skipped on SQLite or the
filesystem broker (CI's first run); it uses a database and a Redis database of its own."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")
BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
ON_POSTGRESQL_AND_REDIS = DATABASE_URL.startswith(("postgres://", "postgresql://")) and (
    BROKER_URL.startswith("redis://")
)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env.update(extra)
    return env


def _scratch_urls() -> tuple[str, str]:
    """`<database>_scaleout` on the same server, and a spare Redis database (9, or 10 when the
    test run's own broker is 9): nothing the test run itself uses."""
    database = urlsplit(DATABASE_URL)
    name = database.path.lstrip("/") or "portal"
    broker = urlsplit(BROKER_URL)
    own = int(broker.path.lstrip("/") or 0)
    spare = 10 if own == 9 else 9
    return (
        database._replace(path=f"/{name}_scaleout").geturl(),
        broker._replace(path=f"/{spare}").geturl(),
    )


def _drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def test_the_proof_refuses_sqlite_and_the_filesystem_broker() -> None:
    for database, broker, message in (
        ("sqlite:///scale.sqlite3", "redis://127.0.0.1:6379/9", "needs PostgreSQL"),
        ("postgres://postgres@127.0.0.1:5432/x", "filesystem://localhost/", "needs Redis"),
    ):
        result = subprocess.run(
            [sys.executable, "bench/scale_out.py"],
            cwd=ROOT,
            env=_clean_env(DATABASE_URL=database, CELERY_BROKER_URL=broker),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert message in result.stderr


@pytest.mark.skipif(
    not ON_POSTGRESQL_AND_REDIS,
    reason="the scale-out proof needs DATABASE_URL on PostgreSQL and CELERY_BROKER_URL on Redis",
)
def test_two_web_processes_two_workers_and_one_beat_do_everything_once() -> None:
    database, broker = _scratch_urls()
    try:
        result = subprocess.run(
            [
                *(sys.executable, "bench/scale_out.py"),
                *("--syncs-per-tenant", "3", "--webhooks", "30", "--decisions", "5"),
                *("--timeout", "90"),
            ],
            cwd=ROOT,
            env=_clean_env(DATABASE_URL=database, CELERY_BROKER_URL=broker),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        _drop_database(database)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert "\n0 failure(s)" in result.stdout
    assert "the session from web A works on web B" in result.stdout
