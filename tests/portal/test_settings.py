"""Settings come from the environment; nonsense must fail loudly, the defaults must just work."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_choice, env_int, env_list, env_secret
from portal.mail import email_settings_from_url

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_SECRET = "q8Zr-3vN_x1LwT9bYk2mPc7dHs0fJu4eAg6iRo5tWy8zXn1QvB3lKj7hGp2"


def _run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    """Import the real settings module in a fresh interpreter with exactly this environment."""
    clean = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    clean.update({"DJANGO_SETTINGS_MODULE": "portal.settings"}, **env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; {code}",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_env_bool_accepts_usual_spellings() -> None:
    assert env_bool("X", False, {"X": "Yes"}) is True
    assert env_bool("X", True, {"X": "0"}) is False
    assert env_bool("X", True, {}) is True


def test_env_bool_rejects_nonsense() -> None:
    with pytest.raises(ImproperlyConfigured, match="X must be a boolean"):
        env_bool("X", False, {"X": "maybe"})


def test_env_int_rejects_non_numbers_and_values_below_minimum() -> None:
    assert env_int("N", 5, {"N": " 42 "}) == 42
    with pytest.raises(ImproperlyConfigured, match="N must be an integer"):
        env_int("N", 5, {"N": "12s"})
    with pytest.raises(ImproperlyConfigured, match="at least 300"):
        env_int("N", 5, {"N": "10"}, minimum=300)
    with pytest.raises(ImproperlyConfigured, match="N must be at most 168"):
        env_int("N", 5, {"N": "169"}, maximum=168)


def test_env_list_and_choice() -> None:
    assert env_list("H", ["a"], {"H": "x.example, y.example,"}) == ["x.example", "y.example"]
    assert env_choice("C", "a", ("a", "b"), {"C": "b"}) == "b"
    with pytest.raises(ImproperlyConfigured, match="one of a, b"):
        env_choice("C", "a", ("a", "b"), {"C": "c"})


def test_env_secret_reads_a_file_and_refuses_both_sources(tmp_path: Path) -> None:
    secret_file = tmp_path / "key"
    secret_file.write_text("from-file\n")
    assert env_secret("S", {"S_FILE": str(secret_file)}) == "from-file"
    assert env_secret("S", {}) is None
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("S", {"S": "a", "S_FILE": str(secret_file)})
    with pytest.raises(ImproperlyConfigured, match="not a file"):
        env_secret("S", {"S_FILE": str(tmp_path / "missing")})


def test_email_url_variants(tmp_path: Path) -> None:
    smtp = email_settings_from_url("smtp+tls://user%40x:p%2Fw@mail.example", var_dir=tmp_path)
    assert (smtp.host, smtp.port, smtp.user, smtp.password, smtp.use_tls) == (
        "mail.example",
        587,
        "user@x",
        "p/w",
        True,
    )
    files = email_settings_from_url(f"file://{tmp_path}/box", var_dir=tmp_path)
    assert files.file_path == f"{tmp_path}/box"
    assert (tmp_path / "box").is_dir()
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL must start with"):
        email_settings_from_url("pigeon://coop", var_dir=tmp_path)


def test_defaults_need_no_variable_beyond_debug(tmp_path: Path) -> None:
    result = _run_settings(
        {"DEBUG": "true", "VAR_DIR": str(tmp_path)},
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL, settings.TIME_ZONE, settings.USE_TZ)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "filesystem://localhost/",
        "UTC",
        "True",
    ]
    assert (tmp_path / "portal.sqlite3").parent == tmp_path


def test_secret_key_is_required_when_debug_is_off(tmp_path: Path) -> None:
    result = _run_settings({"VAR_DIR": str(tmp_path)}, "print(settings.SECRET_KEY)")
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "perhaps"}, "DEBUG must be a boolean"),
        ({"DEBUG": "true", "PRODUCTION": "true"}, "cannot both be on"),
        (
            {"DEBUG": "true", "CELERY_BROKER_URL": "amqp://guest@localhost//"},
            "CELERY_BROKER_URL must be",
        ),
        ({"DEBUG": "true", "SESSION_LIFETIME_SECONDS": "10"}, "at least 300"),
        ({"DEBUG": "true", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of"),
        ({"DEBUG": "true", "APPROVAL_WINDOW_NOTICE_HOURS": "a day"}, "must be an integer"),
        ({"DEBUG": "true", "APPROVAL_WINDOW_NOTICE_HOURS": "-1"}, "must be at least 0"),
        ({"DEBUG": "true", "APPROVAL_WINDOW_NOTICE_HOURS": "1000"}, "must be at most 168"),
    ],
)
def test_bad_values_stop_start_up_with_a_clear_message(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = _run_settings({"VAR_DIR": str(tmp_path), **env}, "print(settings.DEBUG)")
    assert result.returncode != 0
    assert message in result.stderr


def test_database_and_broker_urls_switch_to_postgresql_and_redis(tmp_path: Path) -> None:
    result = _run_settings(
        {
            "DEBUG": "true",
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3",
        },
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_RESULT_BACKEND)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "redis://127.0.0.1:6379/3",
    ]


def test_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    env = {
        "PRODUCTION": "true",
        "SECRET_KEY": PRODUCTION_SECRET,
        "ALLOWED_HOSTS": "portal.example.com",
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    clean = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_principal_names_are_parsed_and_nonsense_refused() -> None:
    from portal.env import parse_name_map

    assert parse_name_map("P", "ABC=Contoso automation, def=Ops") == {
        "abc": "Contoso automation",
        "def": "Ops",
    }
    assert parse_name_map("P", "") == {}
    with pytest.raises(ImproperlyConfigured, match="objectid=Name"):
        parse_name_map("P", "just-a-name")


def test_redis_broker_brings_a_shared_cache(tmp_path: Path) -> None:
    result = _run_settings(
        {
            "DEBUG": "true",
            "VAR_DIR": str(tmp_path),
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2",
        },
        "print(settings.CACHES['default']['BACKEND'], settings.CACHES['default'].get('LOCATION'))",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "portal.redis_cache.ReusingRedisCache",
        "redis://127.0.0.1:6379/2",
    ]


def test_jit_scope_is_a_resource_group_id_or_application() -> None:
    from portal.env import parse_jit_scope

    group = "/subscriptions/d3abb81d-851b-4948-87e4-035350bd1eee/resourceGroups/jit-requests"
    assert parse_jit_scope("S", group + "/") == group
    assert parse_jit_scope("S", "application") == "application"
    assert parse_jit_scope("S", "") == ""
    for bad in ("/subscriptions/nope/resourceGroups/x", group + "/providers/x", "rg-jit"):
        with pytest.raises(ImproperlyConfigured, match="S must be"):
            parse_jit_scope("S", bad)


def test_portal_link_template_takes_only_known_placeholders() -> None:
    from portal.env import parse_url_template

    fields = ("tenant_id", "application_id")
    link = "https://portal.azure.com/#@{tenant_id}/resource{application_id}"
    assert parse_url_template("U", link, fields) == link
    with pytest.raises(ImproperlyConfigured, match="placeholders"):
        parse_url_template("U", "https://x/{secret}", fields)
    with pytest.raises(ImproperlyConfigured, match="http"):
        parse_url_template("U", "javascript:alert({tenant_id})", fields)


def test_public_cloud_needs_the_publisher_jit_scope() -> None:
    env = {
        "DEBUG": "1",
        "AZURE_CLOUD": "public",
        "ENTRA_CLIENT_ID": "4b8abcd2-0b88-4c0a-a9e6-4134635226ce",
        "ENTRA_CLIENT_SECRET": "s",
        "PUBLISHER_TENANT_ID": "0ec098e5-b929-47d3-a4de-b2f969d0ba5b",
    }
    missing = _run_settings(env, "print(settings.PUBLISHER_JIT_SCOPE)")
    assert missing.returncode != 0
    assert "PUBLISHER_JIT_SCOPE" in missing.stderr
    scope = "/subscriptions/d3abb81d-851b-4948-87e4-035350bd1eee/resourceGroups/jit"
    given = _run_settings(
        {**env, "PUBLISHER_JIT_SCOPE": scope}, "print(settings.AZURE_PORTAL_JIT_URL)"
    )
    assert given.returncode == 0, given.stderr
    assert given.stdout.strip().startswith("https://portal.azure.com/")


def test_retention_cannot_be_shorter_than_the_pages_that_read_the_rows(tmp_path: Path) -> None:
    """The "new purchases" notice reads a day of notifications, the timeline 90 days of changes:
    a shorter retention would empty them, so start-up refuses it."""
    from deployments.permissions.timeline import TIMELINE_DAYS
    from deployments.selectors import PURCHASE_NOTICE_HOURS

    purchase_days = -(-PURCHASE_NOTICE_HOURS // 24)  # rounded up
    base = {"DEBUG": "true", "VAR_DIR": str(tmp_path)}
    show = "print(settings.WEBHOOK_EVENT_RETENTION_DAYS, settings.PERMISSION_CHANGE_RETENTION_DAYS)"

    defaults = _run_settings(base, show)
    assert defaults.returncode == 0, defaults.stderr
    assert defaults.stdout.split() == ["90", "365"]

    shortest = _run_settings(
        {
            **base,
            "WEBHOOK_EVENT_RETENTION_DAYS": str(purchase_days),
            "PERMISSION_CHANGE_RETENTION_DAYS": str(TIMELINE_DAYS),
        },
        show,
    )
    assert shortest.returncode == 0, shortest.stderr
    assert shortest.stdout.split() == [str(purchase_days), str(TIMELINE_DAYS)]

    for name, days in (
        ("WEBHOOK_EVENT_RETENTION_DAYS", purchase_days),
        ("PERMISSION_CHANGE_RETENTION_DAYS", TIMELINE_DAYS),
    ):
        too_short = _run_settings({**base, name: str(days - 1)}, show)
        assert too_short.returncode != 0
        assert f"{name} must be at least {days}" in too_short.stderr


def test_production_keeps_database_connections_and_the_demo_does_not(tmp_path: Path) -> None:
    code = "print(settings.DATABASES['default']['CONN_MAX_AGE'])"
    base = {"VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test"}
    production = {**base, "PRODUCTION": "true", "SECRET_KEY": PRODUCTION_SECRET}
    for env, expected in (
        ({**base, "DEBUG": "true"}, "0"),
        (production, "60"),
        ({**production, "DATABASE_CONN_MAX_AGE": "5"}, "5"),
    ):
        result = _run_settings(env, code)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected
