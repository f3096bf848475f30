"""Abuse limits: sign-in, the marketplace webhook (and wrong secrets in particular) and the
actions that change access answer 429 with Retry-After once their rate is passed."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as settings_module
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse
from pytest_django import Settings

from accounts.models import User
from deployments.models import MarketplaceEvent
from portal import rate_limits
from tests.deployments.test_webhook import URL, _payload
from tests.responses import ClientResponse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counters() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def limits(settings: Settings, **rates: str) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **rates}


def webhook(
    client: Client,
    settings: Settings,
    sig: str | None = None,
    address: str = "203.0.113.7",
    **extra: Any,
) -> ClientResponse:
    return client.post(
        f"{URL}?sig={sig or settings.MARKETPLACE_WEBHOOK_SECRET}",
        data=json.dumps(_payload()),
        content_type="application/json",
        REMOTE_ADDR=address,
        **extra,
    )


def test_sign_in_is_limited_per_address(client: Client, settings: Settings) -> None:
    limits(settings, sign_in="3/m")
    for _ in range(3):
        assert client.get(reverse("entra_login")).status_code == 200
    refused = client.get(reverse("entra_login"))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert b"Too many attempts" in refused.content
    assert client.get(reverse("entra_callback")).status_code == 429
    assert client.get(reverse("entra_login"), REMOTE_ADDR="198.51.100.2").status_code == 200


def test_password_attempts_at_the_admin_sign_in_are_limited_per_address(
    client: Client, settings: Settings
) -> None:
    from accounts.models import User

    User.objects.create_superuser("operator", password="correct horse battery staple")
    limits(settings, sign_in="3/m")
    url = reverse("admin:login")
    for _ in range(3):
        assert client.post(url, {"username": "operator", "password": "guess"}).status_code == 200
    right = {"username": "operator", "password": "correct horse battery staple"}
    refused = client.post(url, right)
    assert refused.status_code == 429  # even the right password waits, so guessing stops
    assert client.get(url).status_code == 200  # the form itself still shows
    assert client.post(url, right, REMOTE_ADDR="198.51.100.2").status_code == 302


def test_wrong_webhook_secrets_are_logged_and_then_the_address_waits(
    client: Client, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    limits(settings, webhook_bad_secret="3/m")
    for attempt in range(1, 4):
        assert webhook(client, settings, sig=f"guess-{attempt}").status_code == 401
        assert f"from 203.0.113.7 ({attempt} of 3 allowed)" in caplog.text
    assert settings.MARKETPLACE_WEBHOOK_SECRET not in caplog.text
    refused = webhook(client, settings)  # the right secret, but after too many guesses
    assert refused.status_code == 429
    assert "too many wrong secrets" in refused.json()["error"]
    assert int(refused["Retry-After"]) >= 1
    assert not MarketplaceEvent.objects.exists()
    # Another address is not held back by this one's guesses.
    assert webhook(client, settings, address="198.51.100.2").status_code == 200


def test_webhook_deliveries_are_limited_per_address_with_a_json_answer(
    client: Client, settings: Settings
) -> None:
    limits(settings, webhook="2/m")
    assert webhook(client, settings).status_code == 200
    assert webhook(client, settings).status_code == 200
    refused = webhook(client, settings)
    assert refused.status_code == 429
    assert "try again in" in refused.json()["error"]
    assert MarketplaceEvent.objects.count() == 1  # the second was a duplicate delivery


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    client: Client, settings: Settings
) -> None:
    limits(settings, webhook="1/m")
    assert webhook(client, settings, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 200
    # Untrusted: a new X-Forwarded-For does not make a new client.
    assert webhook(client, settings, HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 429
    settings.RATE_LIMIT_TRUST_FORWARDED_FOR = True
    # Trusted: the proxy's own (last) entry counts, whatever the client put before it.
    assert webhook(client, settings, HTTP_X_FORWARDED_FOR="10.9.9.9, 192.0.2.3").status_code == 200
    assert webhook(client, settings, HTTP_X_FORWARDED_FOR="10.9.9.8, 192.0.2.3").status_code == 429
    # A malformed header falls back to the connecting address.
    assert webhook(client, settings, HTTP_X_FORWARDED_FOR="not an address").status_code == 429


def test_actions_are_limited_per_person_and_reading_is_not(
    client: Client, settings: Settings, alice: User, bob: User
) -> None:
    limits(settings, actions="2/m")
    client.force_login(alice)
    nowhere = reverse("jit:decide", args=[uuid.uuid4()])
    assert client.post(nowhere, {"decision": "approve"}).status_code == 404
    assert client.post(nowhere, {"decision": "approve"}).status_code == 404
    refused = client.post(nowhere, {"decision": "approve"})
    assert refused.status_code == 429
    assert b"Nothing was changed" in refused.content
    for _ in range(4):
        assert client.get(reverse("jit:requests")).status_code == 200
    client.force_login(bob)
    assert client.post(nowhere, {"decision": "approve"}).status_code == 404


def test_a_failing_cache_leaves_the_limits_open(
    client: Client, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    limits(settings, webhook="1/m")
    settings.CACHES = {
        "default": {
            "BACKEND": "portal.redis_cache.ReusingRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    assert webhook(client, settings).status_code == 200
    assert webhook(client, settings).status_code == 200
    assert "not counted: the cache failed" in caplog.text


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("20/m", (20, 60)), ("100/5m", (100, 300)), ("3/s", (3, 1)), ("1000/d", (1000, 86400))],
)
def test_rates_are_read_as_a_limit_per_period(rate: str, expected: tuple[int, int]) -> None:
    assert rate_limits.parse_rate(rate) == expected


def test_a_window_reopens_after_its_period_and_each_client_has_its_own_offset(
    rf: RequestFactory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits(settings, webhook="2/m")
    now = [1_800_000_000.0]
    monkeypatch.setattr("portal.rate_limits.time.time", lambda: now[0])
    request = rf.post("/", REMOTE_ADDR="203.0.113.7")
    counted = [rate_limits.usage(request, "webhook", key="ip", increment=True) for _ in range(3)]
    assert [used.count for used in counted] == [1, 2, 3]
    assert [used.should_limit for used in counted] == [False, False, True]
    time_left = counted[-1].time_left
    assert 1 <= time_left <= 60
    now[0] += time_left - 1
    assert rate_limits.usage(request, "webhook", key="ip", increment=True).should_limit
    now[0] += 1  # the window ended
    reopened = rate_limits.usage(request, "webhook", key="ip", increment=True)
    assert (reopened.count, reopened.time_left) == (1, 60)
    # Windows start at an offset per client, so they do not all reopen in the same second.
    addresses = [f"198.51.100.{n}" for n in range(1, 30)]
    ends = {
        rate_limits.usage(
            rf.post("/", REMOTE_ADDR=address), "webhook", key="ip", increment=False
        ).time_left
        for address in addresses
    }
    assert len(ends) > 5


def test_reading_a_counter_does_not_count(rf: RequestFactory, settings: Settings) -> None:
    limits(settings, webhook_bad_secret="2/m")
    request = rf.post("/", REMOTE_ADDR="203.0.113.7")
    for _ in range(3):
        read = rate_limits.usage(request, "webhook_bad_secret", key="ip", increment=False)
        assert (read.count, read.used_up) == (0, False)
    rate_limits.usage(request, "webhook_bad_secret", key="ip", increment=True)
    rate_limits.usage(request, "webhook_bad_secret", key="ip", increment=True)
    read = rate_limits.count(request, key="ip", read=["webhook_bad_secret"])["webhook_bad_secret"]
    assert (read.count, read.used_up, read.should_limit) == (2, True, False)


@pytest.mark.skipif(
    "redis" not in str(settings_module.CACHES["default"]["BACKEND"]).lower(),
    reason="the Redis path runs where the cache is Redis (the PostgreSQL and Redis pass)",
)
def test_in_redis_a_counter_expires_with_its_window(rf: RequestFactory, settings: Settings) -> None:
    limits(settings, webhook="5/m", webhook_bad_secret="10/5m")
    request = rf.post("/", REMOTE_ADDR="203.0.113.9")
    used = rate_limits.count(
        request, key="ip", increment=["webhook", "webhook_bad_secret"], read=["sign_in"]
    )
    assert [used[name].count for name in ("webhook", "webhook_bad_secret", "sign_in")] == [1, 1, 0]
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    ttls = {key.decode().split(":")[-4]: client.ttl(key) for key in client.keys("*rate:*")}
    assert set(ttls) == {"webhook", "webhook_bad_secret"}  # reading made no key
    assert 1 <= ttls["webhook"] <= used["webhook"].time_left + 1 <= 61
    assert 1 <= ttls["webhook_bad_secret"] <= used["webhook_bad_secret"].time_left + 1 <= 301
