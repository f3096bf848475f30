"""Permission snapshots and drift, through a real sync against the emulator's demo scenario."""

import dataclasses
from collections.abc import Sequence
from typing import Any

from django.core import mail
from django.core.mail import EmailMessage
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from accounts.models import Tenant, User
from deployments.models import (
    Elevation,
    ManagedApplication,
    PermissionChangeEvent,
    PermissionSnapshot,
    RoleDefinition,
)
from deployments.permissions.snapshot import BUILT_IN_ROLE_MAX_AGE
from deployments.tasks import send_unsent_change_mails
from emulator.records import Application
from emulator.server import EmulatorServer
from tests.deployments.conftest import pretend_the_sync_memory_aged
from tests.permissions.conftest import CONTRIBUTOR, OWNER, PUBLISHER_APP_SP, Resync

PAT = "fe96399b-4112-4390-b6f7-5d487005120c"


def _source(azure: EmulatorServer, app: ManagedApplication) -> Application:
    return azure.state.applications[app.arm_id.lower()]


def test_first_sync_takes_a_snapshot_of_each_permission_model_without_events(
    synced: dict[str, ManagedApplication],
) -> None:
    monitoring = synced["fabrikam-monitoring"].permission_snapshot.state
    assert monitoring["jitPolicy"]["enabled"] is True
    assert monitoring["jitPolicy"]["approvalMode"] == "ManualApprove"
    assert monitoring["jitPolicy"]["maximumDuration"] == "PT8H"
    assert monitoring["lockLevel"] == "ReadOnly"
    assert monitoring["allowedActions"] == ["Microsoft.Compute/virtualMachines/restart/action"]
    assert PAT in {p["id"] for p in monitoring["denyAssignment"]["excludedPrincipals"]}
    assert monitoring["roles"][CONTRIBUTOR]["name"] == "Contributor"
    assert monitoring["roles"][CONTRIBUTOR]["permissions"][0]["actions"] == ["*"]

    sql = synced["fabrikam-sql"].permission_snapshot.state
    assert sql["jitPolicy"] is None
    assert sql["lockLevel"] == "CanNotDelete"
    assert {a["roleDefinitionId"] for a in sql["authorizations"]} == {OWNER}

    sandbox = synced["fabrikam-sandbox"].permission_snapshot.state
    assert sandbox["lockLevel"] == "None"
    assert sandbox["denyAssignment"] is None  # no lock is said explicitly, not left out

    assert PermissionSnapshot.objects.count() == ManagedApplication.objects.count()
    assert PermissionChangeEvent.objects.count() == 0
    assert mail.outbox == []
    assert set(RoleDefinition.objects.values_list("name", flat=True)) >= {
        "Owner",
        "Contributor",
        "Reader",
    }


def _role_reads(azure: EmulatorServer) -> int:
    return sum(1 for r in azure.state.requests_log if "/roleDefinitions/" in r.get("path", ""))


def test_built_in_roles_are_read_once_for_every_tenant_until_they_age(
    azure: EmulatorServer, synced: dict[str, ManagedApplication], resync: Resync
) -> None:
    assert RoleDefinition.objects.filter(role_type="BuiltInRole").count() >= 3
    reads = _role_reads(azure)
    assert reads >= 3

    resync()
    assert _role_reads(azure) == reads  # every role came from the database

    pretend_the_sync_memory_aged()
    resync()
    assert _role_reads(azure) >= reads + 3
    assert not RoleDefinition.objects.filter(
        refreshed_at__lt=timezone.now() - BUILT_IN_ROLE_MAX_AGE
    ).exists()


def test_elevations_of_the_last_days_are_mirrored(synced: dict[str, ManagedApplication]) -> None:
    monitoring = synced["fabrikam-monitoring"]
    states = {e.arm_id.rsplit("/", 1)[-1]: e.state for e in Elevation.objects.all()}
    assert states["jitact1"] == "Approved"
    assert states["jitexp1"] == "Expired"
    active = [e for e in monitoring.elevations.all() if e.is_active(e.start)]
    assert active and all(e.role_definition_id == CONTRIBUTOR for e in active)


def test_a_changed_role_definition_creates_one_event_and_one_mail_per_admin(
    azure: EmulatorServer,
    synced: dict[str, ManagedApplication],
    resync: Resync,
    alice: User,
    bob: User,
) -> None:
    alice.email = "alice@example.test"
    alice.save()
    bob.email = "bob@example.test"  # a reader: not mailed
    bob.save()
    # A new object: the emulator's built-in roles are shared across resets, so never edit them.
    with azure.state.lock:
        role = azure.state.role_definitions[CONTRIBUTOR]
        azure.state.role_definitions[CONTRIBUTOR] = dataclasses.replace(
            role, not_actions=[*role.not_actions, "Microsoft.Compute/virtualMachines/delete"]
        )
    resync()
    assert PermissionChangeEvent.objects.count() == 0  # nothing ARM lists changed, roles are fresh

    pretend_the_sync_memory_aged()
    resync()
    events = list(PermissionChangeEvent.objects.all())
    # Every app that authorizes Contributor changed: monitoring, backup, sandbox.
    assert {e.application.name for e in events} == {
        "fabrikam-monitoring",
        "fabrikam-backup",
        "fabrikam-sandbox",
    }
    for event in events:
        assert event.aspects == ["roles"]
        assert "no longer allows: delete virtual machines" in event.lines[0]
        assert event.mailed_at is not None
    assert len(mail.outbox) == 3
    assert {tuple(m.to) for m in mail.outbox} == {("alice@example.test",)}
    assert "Permissions changed in fabrikam-" in mail.outbox[0].subject
    assert "/permissions/applications/" in mail.outbox[0].body
    assert "no longer allows: delete virtual machines" in mail.outbox[0].body

    resync()  # the same picture again: nothing new, nothing mailed twice
    assert PermissionChangeEvent.objects.count() == 3
    assert len(mail.outbox) == 3


def test_a_changed_jit_policy_is_described_with_before_and_after(
    azure: EmulatorServer, synced: dict[str, ManagedApplication], resync: Resync, alice: User
) -> None:
    app = synced["fabrikam-monitoring"]
    source = _source(azure, app)
    assert source.jit_access_policy is not None
    source.jit_access_policy = {
        **source.jit_access_policy,
        "jitApprovalMode": "AutoApprove",
        "jitApprovers": [],
        "maximumJitAccessDuration": "PT24H",
    }
    resync()
    event = PermissionChangeEvent.objects.get()
    assert event.application == app
    assert event.aspects == ["jitPolicy"]
    assert event.before["jitPolicy"]["approvalMode"] == "ManualApprove"
    assert event.after["jitPolicy"]["approvalMode"] == "AutoApprove"
    assert event.lines == [
        "Requests are now approved automatically (they were approved by a person).",
        "Alice Archer is no longer an approver.",
        "The longest elevation changed from 8 hours to 1 day.",
    ]


def test_lock_and_allowed_actions_changes_are_events(
    azure: EmulatorServer, synced: dict[str, ManagedApplication], resync: Resync
) -> None:
    app = synced["fabrikam-monitoring"]
    source = _source(azure, app)
    source.allowed_actions = [*source.allowed_actions, "Microsoft.Web/sites/restart/action"]
    resync()
    event = PermissionChangeEvent.objects.get()
    assert "allowedActions" in event.aspects
    assert "The customer's people may now also: restart web apps." in event.lines

    source.lock_level = "None"
    resync()
    latest = PermissionChangeEvent.objects.first()
    assert latest is not None
    assert {"lockLevel", "denyAssignment"} <= set(latest.aspects)
    assert "The lock changed from “Read-only” to “No lock”." in latest.lines
    assert latest.after["denyAssignment"] is None


def test_a_new_authorization_is_named_readably(
    azure: EmulatorServer, synced: dict[str, ManagedApplication], resync: Resync, pat: User
) -> None:
    app = synced["fabrikam-sandbox"]
    source = _source(azure, app)
    source.authorizations = [a for a in source.authorizations if a["principalId"] != PAT] + [
        {"principalId": PAT, "roleDefinitionId": OWNER}
    ]
    resync()
    event = PermissionChangeEvent.objects.get()
    assert "Pat Patel was given the Owner role." in event.lines
    assert "Pat Patel no longer holds Contributor." in event.lines
    assert PUBLISHER_APP_SP not in " ".join(event.lines)


def test_bookkeeping_differences_update_the_snapshot_without_an_event(
    synced: dict[str, ManagedApplication], resync: Resync
) -> None:
    snapshot = synced["fabrikam-sql"].permission_snapshot
    snapshot.state = {**snapshot.state, "installedAt": None}
    snapshot.save()
    pretend_the_sync_memory_aged()  # ARM's answers did not change: only a full comparison sees it
    resync()
    snapshot.refresh_from_db()
    assert snapshot.state["installedAt"]
    assert PermissionChangeEvent.objects.count() == 0


def test_a_single_application_sync_after_a_notification_records_drift_too(
    azure: EmulatorServer,
    synced: dict[str, ManagedApplication],
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    from deployments import runs, sync

    app = synced["fabrikam-backup"]
    source = _source(azure, app)
    assert source.jit_access_policy is not None
    source.jit_access_policy = {**source.jit_access_policy, "jitApprovalMode": "ManualApprove"}
    with django_capture_on_commit_callbacks(execute=False):
        run = runs.queue_application_sync(tenant=fabrikam, application_arm_id=app.arm_id)
    sync.run_application_sync(run_id=run.pk)
    event = PermissionChangeEvent.objects.get()
    assert event.application == app
    assert event.lines == [
        "Requests are now approved by a person (they were approved automatically)."
    ]


class BrokenMailServer:
    """An e-mail backend whose server is down."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        raise ConnectionRefusedError("mail server down")


def test_a_mail_that_could_not_be_sent_is_sent_by_the_periodic_retry(
    azure: EmulatorServer,
    synced: dict[str, ManagedApplication],
    resync: Resync,
    alice: User,
    settings: Settings,
) -> None:
    alice.email = "alice@example.test"
    alice.save()
    source = _source(azure, synced["fabrikam-sql"])
    source.allowed_actions = ["Microsoft.Sql/servers/databases/write"]
    settings.EMAIL_BACKEND = "tests.permissions.test_sync.BrokenMailServer"
    resync()
    event = PermissionChangeEvent.objects.get()
    assert event.mailed_at is None
    assert send_unsent_change_mails() == 0  # the server is still down
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_unsent_change_mails() == 1
    event = PermissionChangeEvent.objects.get(pk=event.pk)  # as stored now
    assert event.mailed_at is not None
    assert send_unsent_change_mails() == 0  # sent once
    assert len(mail.outbox) == 1
    assert PermissionChangeEvent.objects.count() == 1
