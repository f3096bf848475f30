"""Every page carries a Content-Security-Policy without inline code, nothing the portal renders
may be cached, and the templates hold no inline script, style or event handler the policy would
refuse."""

import re
from pathlib import Path

import pytest
from django.http.response import HttpResponseBase
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from accounts.models import User
from portal.security_headers import content_security_policy

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def policy_of(response: HttpResponseBase) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/auth/login/", "/healthz", "/admin/login/"])
def test_public_pages_send_a_strict_policy_and_no_store(client: Client, path: str) -> None:
    response = client.get(path)
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]


def test_forms_may_lead_only_to_the_portal_and_the_sign_in_origin(
    client: Client, settings: Settings, db: None
) -> None:
    settings.CONTENT_SECURITY_POLICY = content_security_policy("https://login.microsoftonline.com/")
    policy = policy_of(client.get("/auth/login/"))
    assert policy["form-action"] == ["'self'", "https://login.microsoftonline.com"]


@pytest.mark.parametrize(
    "name",
    ["jit:requests", "jit:audit", "jit:audit_csv", "deployments:my_apps", "accounts:profile"],
)
def test_private_pages_and_the_audit_export_are_not_stored(alice_client: Client, name: str) -> None:
    response = alice_client.get(reverse(name))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"javascript:", re.IGNORECASE)


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_templates_hold_no_inline_code(template: Path) -> None:
    text = template.read_text()
    for pattern in (INLINE_SCRIPT, INLINE_STYLE, EVENT_HANDLER, JS_URL):
        assert not pattern.search(text), f"{pattern.pattern} in {template}"
