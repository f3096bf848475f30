"""The small parsers at the boundary: role ids, durations, Retry-After."""

import datetime as dt
import email.utils

import pytest

from azure_gateway.errors import retry_after_seconds
from azure_gateway.mapping import parse_duration, role_guid

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


@pytest.mark.parametrize(
    "value",
    [
        CONTRIBUTOR,
        CONTRIBUTOR.upper(),
        f"/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
        f"/subscriptions/a8c02436-e607-478d-aa9c-f223ff5aabfd/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}/",
    ],
)
def test_role_ids_normalise_to_the_guid(value: str) -> None:
    assert role_guid(value) == CONTRIBUTOR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT8H", dt.timedelta(hours=8)),
        ("PT08H00M00S", dt.timedelta(hours=8)),  # how the SDK writes timedelta(hours=8)
        ("P1DT30M", dt.timedelta(days=1, minutes=30)),
        ("", None),
        (None, None),
    ],
)
def test_durations_parse_both_spellings(text: str | None, expected: dt.timedelta | None) -> None:
    assert parse_duration(text) == expected


def test_durations_in_months_are_refused() -> None:
    with pytest.raises(ValueError):
        parse_duration("P1M")


def test_retry_after_in_seconds() -> None:
    assert retry_after_seconds({"Retry-After": "17"}) == 17.0


def test_retry_after_as_a_date() -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    seconds = retry_after_seconds({"Retry-After": email.utils.format_datetime(later, usegmt=True)})

    assert seconds is not None
    assert 0 < seconds <= 120


def test_retry_after_in_milliseconds() -> None:
    assert retry_after_seconds({"x-ms-retry-after-ms": "1500"}) == 1.5


def test_no_retry_after() -> None:
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(None) is None
