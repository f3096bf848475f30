"""The shared HTTP session reads proxy settings from the environment once per host."""

import pytest

from portal.azure.transport import _Session

PROXY = "http://proxy.example.test:3128"


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch):
    for name in (
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def _proxies(session, url):
    return session.merge_environment_settings(url, {}, False, True, None)["proxies"]


def test_environment_proxies_apply_per_host_and_no_proxy_is_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    session = _Session()
    assert _proxies(session, "https://management.azure.com/subscriptions?a=1").get("https") == PROXY
    assert "https" not in _proxies(session, "https://127.0.0.1:8443/subscriptions")


def test_a_host_is_looked_up_once(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    session = _Session()
    first = _proxies(session, "https://management.azure.com/one")
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example.test:8080")
    assert _proxies(session, "https://management.azure.com/two") == first  # kept per host
    first["https"] = "changed by the caller"
    assert _proxies(session, "https://management.azure.com/three").get("https") == PROXY
    assert _proxies(session, "https://graph.microsoft.com/v1.0").get("https") != PROXY


def test_explicit_proxies_are_not_cached(monkeypatch):
    session = _Session()
    explicit = {"https": PROXY}
    merged = session.merge_environment_settings(
        "https://example.test/", explicit, False, True, None
    )
    assert merged["proxies"]["https"] == PROXY
    assert session._environment == {}
