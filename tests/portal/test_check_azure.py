"""`manage.py check_azure` against the emulator: everything OK on the demo set-up, and each thing
Azure refuses (a missing role, a wrong secret) reported by name with what to fix."""

import io

import pytest
from django.core.management import CommandError, call_command
from pytest_django import Settings

from accounts.models import Role, Tenant
from deployments.models import ManagedApplication
from emulator.server import EmulatorServer
from jit.mirror import jit_requests_reconcile_scope
from tests.conftest import make_person
from tests.jit.conftest import PAT, PUBLISHER_SP, monitoring, offers  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

JIT_SCOPE = "/subscriptions/d3abb81d-851b-4948-87e4-035350bd1eee/resourceGroups/jit-requests"
FABRIKAM_SUB = "/subscriptions/a8c02436-e607-478d-aa9c-f223ff5aabfd"
PORTAL_SP_IN_FABRIKAM = "74b5d735-e9db-45a6-b41d-9e8ab92b087a"


def check(*args: str) -> tuple[str, str]:
    out = io.StringIO()
    try:
        call_command("check_azure", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), ""


def failures(output: str) -> list[str]:
    """Each FAIL line with the line after it (where and what to fix)."""
    lines = output.splitlines()
    return [f"{line}\n{lines[i + 1]}" for i, line in enumerate(lines) if line.startswith("FAIL")]


def unassign(azure: EmulatorServer, principal: str, scope: str) -> None:
    with azure.state.lock:
        found = [
            a
            for a in list(azure.state.role_assignments.values())
            if a.principal_id == principal and a.scope.lower() == scope.lower()
        ]
        assert found, f"the demo scenario gives {principal} a role at {scope}"
        for assignment in found:
            azure.state.remove_role_assignment(assignment.name)


@pytest.fixture
def fleet(
    azure: EmulatorServer,
    contoso: Tenant,
    fabrikam: Tenant,
    northwind: Tenant,
    monitoring: ManagedApplication,  # noqa: F811
) -> None:
    make_person(contoso, PAT, "Pat Patel", Role.PUBLISHER_SUPPORT)
    jit_requests_reconcile_scope()  # the demo's pending requests, for the channel probe


def test_everything_is_ok_on_the_demo_set_up(fleet: None) -> None:
    output, error = check()

    assert error == "", output
    assert failures(output) == []
    for line in (
        "Sign-in metadata",
        "Publisher app token",
        "Read jitRequests in the JIT scope",
        "Create jitRequests in the JIT scope",
        "Portal token",
        "Read subscriptions",
        "Read managed applications",
        "Read role assignments",
        "Read deny assignments",
        "Approval channel",
    ):
        assert line in output
    assert "Pat Patel at " + JIT_SCOPE in output
    assert "hand-off" in output
    assert "portal-emulator-secret" not in output and "publisher-emulator-secret" not in output


def test_each_refusal_is_reported_by_name_with_what_to_fix(
    fleet: None, azure: EmulatorServer
) -> None:
    unassign(azure, PAT, JIT_SCOPE)
    unassign(azure, PORTAL_SP_IN_FABRIKAM, FABRIKAM_SUB)

    output, error = check()

    failed = failures(output)
    assert "checks failed" in error
    pat = next(f for f in failed if "Create jitRequests" in f)
    assert "Pat Patel" in pat and "Microsoft.Solutions/jitRequests/write" in pat
    fabrikam = next(f for f in failed if "Read subscriptions" in f)
    assert "Fabrikam" in fabrikam and "Reader" in fabrikam
    assert not any("Northwind" in f for f in failed)  # one tenant's gap is not another's


def test_a_publisher_app_without_read_on_the_scope_is_named(
    fleet: None, azure: EmulatorServer
) -> None:
    unassign(azure, PUBLISHER_SP, JIT_SCOPE)

    output, _ = check()

    (failed,) = [f for f in failures(output) if "JIT scope" in f]
    assert "AuthorizationFailed" in failed
    assert "Microsoft.Solutions/jitRequests/read" in failed


def test_a_wrong_publisher_secret_is_reported_without_showing_it(
    fleet: None, settings: Settings
) -> None:
    settings.PUBLISHER_CLIENT_SECRET = "not-the-secret"

    output, _ = check()

    (failed,) = [f for f in failures(output) if "Publisher app token" in f]
    assert "PUBLISHER_CLIENT_ID/SECRET" in failed
    assert "not-the-secret" not in output


def test_the_proven_channel_is_saved_only_when_asked(fleet: None, fabrikam: Tenant) -> None:
    Tenant.objects.filter(pk=fabrikam.pk).update(approval_channel=Tenant.ApprovalChannel.PIM)

    check()
    fabrikam.refresh_from_db()
    assert fabrikam.approval_channel == Tenant.ApprovalChannel.PIM

    check("--save-channels")
    fabrikam.refresh_from_db()
    assert fabrikam.approval_channel == Tenant.ApprovalChannel.HANDOFF
    assert fabrikam.approval_channel_checked_at is not None


def test_with_the_pim_link_assumed_the_channel_probe_finds_it(
    fleet: None, azure: EmulatorServer, fabrikam: Tenant
) -> None:
    """The emulator's `pim-link` assumption (docs/emulator.md) stands in for a tenant where
    Azure shows the PIM approval behind a JIT request."""
    import requests

    from jit.models import JitRequest

    response = requests.post(
        f"{azure.https_url}/_emulator/settings",
        json={"assumptions": ["pim-link"]},
        verify=azure.ca_bundle,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    app = JitRequest.objects.get(name="jitpend1").application
    created = requests.post(
        f"{azure.https_url}/_emulator/act/jit-request",
        json={"as": PAT, "application_id": app.arm_id, "name": "jitpim1"},
        verify=azure.ca_bundle,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    jit_requests_reconcile_scope()

    output, _ = check("--tenant", str(fabrikam.entra_tenant_id), "--save-channels")

    assert "in-portal (PIM approval found: jitpim1" in output
    fabrikam.refresh_from_db()
    assert fabrikam.approval_channel == Tenant.ApprovalChannel.PIM
