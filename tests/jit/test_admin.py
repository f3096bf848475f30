"""The JIT admin: failed operations submitted again (only when safe), audit event mails sent
again, and the audit trail read-only for everyone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts.models import Tenant, User
from deployments.models import ManagedApplication
from jit.models import AuditEvent, JitRequest, Operation, State
from tests.admin_rows import changelist_url, logged, make_operator, run_action, signed_in_client
from tests.deployments.conftest import make_jit_request

Published = list[tuple[str, tuple[Any, ...]]]


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Published:
    """The tasks queued after commit, instead of reaching the broker."""
    sent: Published = []

    def publish(task: Any, *args: Any) -> bool:
        sent.append((task.name, args))
        return True

    monkeypatch.setattr("portal.queueing.publish", publish)
    return sent


def _operation(
    app: ManagedApplication, by: User, jit: JitRequest | None, kind: str, status: str
) -> Operation:
    return Operation.objects.create(
        kind=kind, jit_request=jit, application=app, by=by, status=status, error_code="Forbidden"
    )


def test_a_failed_operation_is_queued_again_and_the_rest_skipped(
    monitoring: ManagedApplication,
    pat: User,
    published: Published,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    failed_jit = make_jit_request(monitoring, state=State.FAILED)
    failed = _operation(monitoring, pat, failed_jit, "create", Operation.Status.FAILED)
    done = _operation(monitoring, pat, make_jit_request(monitoring), "decide", "done")
    # A failed cancel whose request already has a live cancel: the constraint allows one.
    busy_jit = make_jit_request(monitoring)
    _operation(monitoring, pat, busy_jit, "cancel", Operation.Status.QUEUED)
    busy = _operation(monitoring, pat, busy_jit, "cancel", Operation.Status.FAILED)
    client = signed_in_client(make_operator())

    with django_capture_on_commit_callbacks(execute=True):
        _, messages = run_action(client, Operation, "retry", [failed, done, busy])

    assert published == [("jit.submit_operation", (failed.pk,))]
    failed.refresh_from_db()
    assert (failed.status, failed.error_code) == (Operation.Status.QUEUED, "")
    failed_jit.refresh_from_db()
    assert failed_jit.state == State.SUBMITTING
    busy.refresh_from_db()
    assert busy.status == Operation.Status.FAILED
    assert messages[0].startswith("Queued 1 operation(s) again.")
    assert (
        f"Skipped #{done.pk} (Decision (Confirmed by Azure)): its status is “Confirmed by Azure”"
        in (messages[0])
    )
    assert "another operation of this kind on the same request is live or done" in messages[0]
    assert logged("Retry failed operation") == [str(failed.pk)]


def test_an_older_policy_change_is_not_retried_over_a_newer_one(
    monitoring: ManagedApplication, alice: User, published: Published
) -> None:
    old = _operation(monitoring, alice, None, "policy", Operation.Status.FAILED)
    _operation(monitoring, alice, None, "policy", Operation.Status.DONE)
    client = signed_in_client(make_operator())
    _, messages = run_action(client, Operation, "retry", [old])
    assert "a newer policy change of the application exists" in messages[0]
    old.refresh_from_db()
    assert old.status == Operation.Status.FAILED
    assert logged("Retry failed operation") == []


def test_audit_event_mails_are_queued_again_for_actions_that_send_mail(
    monitoring: ManagedApplication,
    fabrikam: Tenant,
    alice: User,
    published: Published,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    jit = make_jit_request(monitoring)
    common = {"tenant": fabrikam, "application": monitoring, "jit_request": jit, "actor": alice}
    approved = AuditEvent.objects.create(action=AuditEvent.Action.APPROVED, **common)
    recorded = AuditEvent.objects.create(action=AuditEvent.Action.DECIDED, **common)
    client = signed_in_client(make_operator())

    with django_capture_on_commit_callbacks(execute=True):
        _, messages = run_action(client, AuditEvent, "send_mails_again", [approved, recorded])

    assert published == [("jit.send_notifications", (approved.pk,))]
    assert messages == [
        f"Queued the e-mails of 1 event(s). Skipped #{recorded.pk} ({recorded}): "
        "“Decision recorded” sends no mail."
    ]
    assert logged("Send audit event mails again") == [str(approved.pk)]


def test_the_audit_trail_is_read_only_even_for_superusers(
    monitoring: ManagedApplication, fabrikam: Tenant
) -> None:
    event = AuditEvent.objects.create(
        action=AuditEvent.Action.POLICY_CHANGED, tenant=fabrikam, application=monitoring
    )
    client = signed_in_client(make_operator())

    listing = client.get(changelist_url(AuditEvent))
    assert listing.status_code == 200
    assert "delete_selected" not in listing.content.decode()
    change = reverse("admin:jit_auditevent_change", args=[event.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(change, {"reason": "rewritten"}).status_code == 403
    assert client.get(reverse("admin:jit_auditevent_add")).status_code == 403
    delete = reverse("admin:jit_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    _, _ = run_action(client, AuditEvent, "delete_selected", [event])
    assert AuditEvent.objects.filter(pk=event.pk, reason="").exists()
    assert not LogEntry.objects.exists()


def test_a_staff_user_without_permissions_cannot_retry(
    monitoring: ManagedApplication, pat: User, published: Published
) -> None:
    failed = _operation(monitoring, pat, make_jit_request(monitoring), "create", "failed")
    client = signed_in_client(make_operator(superuser=False, username="nobody"))
    status, _ = run_action(client, Operation, "retry", [failed])
    assert status == 403
    failed.refresh_from_db()
    assert failed.status == Operation.Status.FAILED
