"""ARM's answers counted per operation (Prometheus) and per block (`count_responses`), against the
emulator; the operation label's path template on real ARM ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from azure_gateway import Throttled, count_responses
from azure_gateway.gateway import SdkAzureGateway
from azure_gateway.observe import arm_operation, arm_path_template, status_class
from azure_gateway.pipeline import RETRY_TOTAL
from emulator.server import EmulatorServer
from tests.azure.conftest import FABRIKAM_SUB, MONITORING

APPS_PATH = f"/subscriptions/{FABRIKAM_SUB}/providers/Microsoft.Solutions/applications"
APPS_OPERATION = "GET /subscriptions/{}/providers/Microsoft.Solutions/applications"
ARM_EXAMPLES = Path("/work/shared/arm-examples")


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/subscriptions", "/subscriptions"),
        (
            f"/subscriptions/{FABRIKAM_SUB}?api-version=2022-12-01",
            "/subscriptions/{}",
        ),
        (
            "/subscriptions/subid/resourceGroups/rg/providers/Microsoft.Solutions/applications/"
            "myManagedApplication?api-version=2023-12-01-preview",
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Solutions/applications/{}",
        ),
        (
            "/subscriptions/subid/resourceGroups/rg/providers/Microsoft.Solutions/jitRequests",
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Solutions/jitRequests",
        ),
        (
            "/subscriptions/subid/resourceGroups/rg/providers/Microsoft.Solutions/applications/"
            "app/listTokens",
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Solutions/applications/{}"
            "/listTokens",
        ),
        (
            "/subscriptions/subId/resourcegroups/mrg-app/providers/Microsoft.Authorization/"
            "denyAssignments",
            "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.Authorization/denyAssignments",
        ),
        (
            "/providers/Microsoft.Authorization/roleAssignmentApprovals/"
            "488a6d0e-0a63-4946-86e3-1f5bbc934661/stages/4135f961-be78-4005-8101-c72a5af307a2",
            "/providers/Microsoft.Authorization/roleAssignmentApprovals/{}/stages/{}",
        ),
        (
            # An extension resource on an application.
            f"{MONITORING}/providers/Microsoft.Authorization/roleAssignments/x",
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Solutions/applications/{}"
            "/providers/Microsoft.Authorization/roleAssignments/{}",
        ),
        (
            f"/subscriptions/{FABRIKAM_SUB}/resourcegroups/rg-monitoring/resources?$filter=x",
            "/subscriptions/{}/resourcegroups/{}/resources",
        ),
        (
            f"/subscriptions/{FABRIKAM_SUB}/providers/Microsoft.Solutions/locations/eastus/"
            "operationStatuses/0ec098e5-b929-47d3-a4de-b2f969d0ba5b",
            "/subscriptions/{}/providers/Microsoft.Solutions/locations/{}/operationStatuses/{}",
        ),
        ("/", "/"),
    ],
)
def test_paths_become_templates_of_bounded_variety(path: str, template: str) -> None:
    assert arm_path_template(path) == template
    assert arm_path_template("https://management.azure.com" + path) == template


def _ids(value: object) -> list[str]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k == "id" and isinstance(v, str)]
        return found + [i for v in value.values() for i in _ids(v)]
    if isinstance(value, list):
        return [i for v in value for i in _ids(v)]
    return []


@pytest.mark.skipif(not ARM_EXAMPLES.is_dir(), reason="needs the ARM examples")
def test_the_ids_of_arms_own_examples_keep_no_name() -> None:
    ids = {
        arm_id
        for example in ARM_EXAMPLES.rglob("*.json")
        for arm_id in _ids(json.loads(example.read_text()))
        if arm_id.startswith("/")
    }
    assert len(ids) > 10
    for arm_id in ids:
        template = arm_path_template(arm_id)
        segments = arm_id.strip("/").split("/")
        kept = template.strip("/").split("/")
        assert len(kept) == len(segments), arm_id
        for before, segment, out in zip(segments, segments[1:], kept[1:], strict=False):
            if before.lower() == "providers":
                assert out == segment, arm_id  # the provider namespace stays
        # every subscription id, resource group and resource name is gone
        for name in ("subid", "subId", "rg", "rgname", "myManagedApplication", "myJitRequest"):
            assert f"/{name}/" not in template + "/", (arm_id, template)
        assert "488a6d0e" not in template


def test_status_classes() -> None:
    assert [status_class(s) for s in (200, 204, 304, 404, 429, 503, 700)] == [
        "2xx",
        "2xx",
        "3xx",
        "4xx",
        "429",
        "5xx",
        "other",
    ]
    assert arm_operation("get", "https://x/subscriptions?api-version=1") == "GET /subscriptions"


def _arm_count(operation: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "portal_arm_requests_total", {"operation": operation, "status": status}
    )
    return value or 0.0


def test_each_attempt_is_counted_retried_429s_included(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="throttle", count=1, retry_after=0, path=APPS_PATH)
    ok_before, throttled_before = (
        _arm_count(APPS_OPERATION, "2xx"),
        _arm_count(APPS_OPERATION, "429"),
    )

    with count_responses() as outer:
        with count_responses() as inner:
            apps = list(fabrikam_app.list_managed_apps(FABRIKAM_SUB))
        list(fabrikam_app.list_subscriptions())

    assert len(apps) == 5
    assert (inner.calls, inner.throttled) == (2, 1)
    assert outer.calls >= 3 and outer.throttled == 1
    assert _arm_count(APPS_OPERATION, "2xx") == ok_before + 1
    assert _arm_count(APPS_OPERATION, "429") == throttled_before + 1
    assert _arm_count("GET /subscriptions", "2xx") >= 1


def test_throttling_that_outlasts_the_retries_is_tallied_too(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="throttle", count=RETRY_TOTAL + 1, retry_after=0, path=APPS_PATH)
    with count_responses() as tally, pytest.raises(Throttled):
        list(fabrikam_app.list_managed_apps(FABRIKAM_SUB))
    assert (tally.calls, tally.throttled) == (RETRY_TOTAL + 1, RETRY_TOTAL + 1)


def test_the_raw_pipeline_is_counted(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    with count_responses() as tally:
        fabrikam_app.read_subscriptions()
    assert tally.calls >= 1 and tally.throttled == 0


def test_outside_a_block_nothing_is_tallied() -> None:
    with count_responses() as tally:
        pass
    assert (tally.calls, tally.throttled) == (0, 0)
