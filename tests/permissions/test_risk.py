"""Risk ranking: what the publisher can do without the customer's yes, from a snapshot state."""

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import User
from deployments.models import ManagedApplication, PermissionSnapshot
from deployments.permissions.risk import (
    CONTRIBUTOR,
    HIGH,
    LOW,
    MEDIUM,
    NO_RISK,
    OWNER,
    READ,
    SOME_CHANGES,
    UNKNOWN,
    assess,
    role_breadth,
)

OWNER_ROLE = [{"actions": ["*"], "notActions": []}]
CONTRIBUTOR_ROLE = [
    {
        "actions": ["*"],
        "notActions": [
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
        ],
    }
]
READER_ROLE = [{"actions": ["*/read"], "notActions": []}]
RESTARTER_ROLE = [
    {"actions": ["*/read", "Microsoft.Compute/virtualMachines/restart/action"], "notActions": []}
]


def _state(
    permissions: list[dict[str, Any]], *, jit: dict[str, Any] | None = None, mode: str = "Managed"
) -> dict[str, Any]:
    return {
        "managementMode": mode,
        "authorizations": [{"principalId": "p1", "roleDefinitionId": "r1"}],
        "roles": {"r1": {"name": "Role", "permissions": permissions}},
        "jitPolicy": jit,
    }


MANUAL = {
    "enabled": True,
    "approvalMode": "ManualApprove",
    "approvers": [{"id": "a1", "type": "user", "displayName": "Alice"}],
    "maximumDuration": "PT4H",
}


@pytest.mark.parametrize(
    ("permissions", "breadth"),
    [
        (OWNER_ROLE, OWNER),
        (CONTRIBUTOR_ROLE, CONTRIBUTOR),
        (RESTARTER_ROLE, SOME_CHANGES),
        (READER_ROLE, READ),
        ([{"actions": [], "dataActions": ["Microsoft.Storage/*/read"]}], SOME_CHANGES),
        ([], UNKNOWN),
    ],
)
def test_role_breadth_reads_the_role_shape(permissions: list[dict[str, Any]], breadth: int) -> None:
    assert role_breadth(permissions) == breadth


def test_standing_owner_without_jit_is_high_and_says_jit_cannot_be_turned_on() -> None:
    risk = assess(_state(OWNER_ROLE, jit={"enabled": False}), max_hours=4)
    assert risk.level == HIGH
    assert "do anything, including deciding who else has access at any time" in risk.reasons[0]
    assert risk.summary == "Full control, access included, at all times"
    assert risk.customer_can_change == []
    assert "only when the application is deployed" in risk.customer_cannot_change[0]


def test_manual_jit_with_approvers_gates_the_role_and_is_low() -> None:
    risk = assess(_state(OWNER_ROLE, jit=MANUAL), max_hours=4)
    assert risk.level == LOW
    assert "a person must approve" in risk.reasons[0]
    assert risk.summary == "Read at all times; more after a person approves"
    assert "who approves requests" in risk.customer_can_change


def test_automatic_approval_is_as_risky_as_standing_access() -> None:
    automatic = assess(
        _state(OWNER_ROLE, jit={**MANUAL, "approvalMode": "AutoApprove"}), max_hours=4
    )
    standing = assess(_state(OWNER_ROLE, jit=None), max_hours=4)
    assert automatic.level == standing.level == HIGH
    assert "approved automatically" in automatic.reasons[0]


def test_no_approvers_or_long_durations_raise_gated_access_to_medium() -> None:
    unnamed = assess(_state(OWNER_ROLE, jit={**MANUAL, "approvers": []}), max_hours=4)
    long = assess(_state(OWNER_ROLE, jit={**MANUAL, "maximumDuration": "PT8H"}), max_hours=4)
    gated = assess(_state(OWNER_ROLE, jit=MANUAL), max_hours=4)
    assert unnamed.level == long.level == MEDIUM
    assert any("No approvers are named" in r for r in unnamed.reasons)
    assert any("8 hours, longer than the 4 hours" in r for r in long.reasons)
    assert unnamed.score > gated.score and long.score > gated.score


def test_scores_rank_owner_over_contributor_over_some_changes_over_read() -> None:
    scores = [
        assess(_state(p, jit=None), max_hours=4).score
        for p in (OWNER_ROLE, CONTRIBUTOR_ROLE, RESTARTER_ROLE, READER_ROLE)
    ]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4
    assert assess(_state(RESTARTER_ROLE, jit=None), max_hours=4).level == MEDIUM
    assert assess(_state(READER_ROLE, jit=None), max_hours=4).level == LOW


def test_unmanaged_or_roleless_applications_carry_no_publisher_risk() -> None:
    assert assess(_state(OWNER_ROLE, mode="Unmanaged"), max_hours=4).level == NO_RISK
    roleless = {"managementMode": "Managed", "authorizations": [], "roles": {}}
    assert assess(roleless, max_hours=4).score == 0


def test_an_unread_role_is_assumed_broad_and_says_so() -> None:
    risk = assess(_state([], jit=None), max_hours=4)
    assert risk.level == HIGH
    assert any("has not been read yet" in r for r in risk.reasons)


# --- On the pages, with the demo's applications synced from the emulator ---------------------


@pytest.mark.django_db
def test_the_sync_stores_each_snapshots_score(synced: dict[str, ManagedApplication]) -> None:
    for app in synced.values():
        snapshot = PermissionSnapshot.objects.filter(application=app).first()
        if snapshot is not None:
            hours = settings.PERMISSIONS_MAX_JIT_HOURS
            assert snapshot.risk_score == assess(snapshot.state, max_hours=hours).score


@pytest.mark.django_db
def test_overview_puts_standing_owner_first_and_names_the_risk(
    client: Client, synced: dict[str, ManagedApplication], alice: User
) -> None:
    client.force_login(alice)
    text = client.get(reverse("permissions:overview")).content.decode()
    # fabrikam-sql: the publisher holds Owner at all times (JIT not used).
    assert "High risk" in text
    first, rest = text.index("fabrikam-sql"), text.index("fabrikam-monitoring")
    assert first < rest
    by_name = client.get(reverse("permissions:overview") + "?order=name").content.decode()
    assert by_name.index("fabrikam-monitoring") < by_name.index("fabrikam-sql")


@pytest.mark.django_db
def test_app_page_says_what_the_customer_can_and_cannot_change(
    client: Client, synced: dict[str, ManagedApplication], alice: User
) -> None:
    client.force_login(alice)
    sql = client.get(reverse("permissions:app", args=[synced["fabrikam-sql"].pk]))
    text = sql.content.decode()
    assert 'id="risk"' in text and "High risk" in text
    assert "Azure lets you choose it only when the application is deployed" in text
    monitoring = client.get(reverse("permissions:app", args=[synced["fabrikam-monitoring"].pk]))
    assert (
        reverse("jit:policy", args=[synced["fabrikam-monitoring"].pk])
        in monitoring.content.decode()
    )
