"""Actions and roles in plain words."""

import pytest

from deployments.permissions import plain_language as pl
from deployments.permissions.rights import effective_actions


@pytest.mark.parametrize(
    ("action", "phrase"),
    [
        ("*", "do anything"),
        ("*/read", "read everything"),
        ("*/delete", "delete any resource"),
        ("Microsoft.Compute/virtualMachines/restart/action", "restart virtual machines"),
        ("Microsoft.Web/sites/restart/action", "restart web apps"),
        ("Microsoft.Network/dnsZones/write", "create or change DNS zones"),
        (
            "Microsoft.Storage/storageAccounts/listKeys/action",
            "read the access keys of storage accounts",
        ),
        (
            "Microsoft.Sql/servers/failoverGroups/forceFailover/action",
            "run “force failover” on failover groups",
        ),
        ("Microsoft.Compute/*", "do anything with compute (virtual machines, disks)"),
        ("Microsoft.Authorization/*/Write", "grant access to others"),
        ("Microsoft.KeyVault/vaults/*", "do anything with vaults"),
    ],
)
def test_actions_read_as_phrases(action: str, phrase: str) -> None:
    assert pl.describe_action(action) == phrase


def test_roles_of_the_usual_shapes() -> None:
    owner = [{"actions": ["*"], "notActions": [], "dataActions": []}]
    contributor = [
        {
            "actions": ["*"],
            "notActions": ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write"],
            "dataActions": [],
        }
    ]
    reader = [{"actions": ["*/read"], "notActions": [], "dataActions": []}]
    assert pl.describe_role(owner) == ["do anything, including deciding who else has access"]
    assert pl.describe_role(contributor) == [
        "create, change and delete anything, but not decide who has access"
    ]
    assert pl.describe_role(reader) == ["read everything"]


def test_durations() -> None:
    assert pl.describe_duration(8 * 3600) == "8 hours"
    assert pl.describe_duration(86400) == "1 day"
    assert pl.describe_duration(90 * 60) == "90 minutes"
    assert pl.join_phrases(["a", "b", "c"]) == "a, b and c"


def test_the_lock_takes_away_what_it_denies_unless_you_are_excluded() -> None:
    owner = [{"actions": ["*"]}]
    read_only = {
        "permissions": [
            {"actions": ["*"], "notActions": ["*/read", "Microsoft.Web/sites/restart/action"]}
        ],
        "excludedPrincipals": [{"id": "publisher", "type": "User"}],
    }
    assert effective_actions(owner, read_only, viewer_id="customer") == (
        ["*/read", "Microsoft.Web/sites/restart/action"],
        ["*"],
    )
    assert effective_actions(owner, read_only, viewer_id="publisher") == (["*"], [])
    cannot_delete = {"permissions": [{"actions": ["*/delete"], "notActions": ["*/read"]}]}
    assert effective_actions(owner, cannot_delete, viewer_id="customer") == (["*"], ["*/delete"])
    assert effective_actions([{"actions": ["*/read"]}], None, viewer_id="x") == (["*/read"], [])
