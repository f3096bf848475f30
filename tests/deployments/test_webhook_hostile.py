"""The marketplace webhook against signed but hostile bodies and query strings: every answer is a
2xx or a 4xx with a reason, never a 500, and a rejected body leaves nothing in the database."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pytest_django import Settings

from deployments.models import MarketplaceEvent, SyncRun
from tests.deployments.test_webhook import APP_ID, URL, _payload
from tests.responses import ClientResponse

pytestmark = pytest.mark.django_db

PROPERTY = hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _post_raw(
    client: Client, settings: Settings, body: bytes | str, query: str | None = None
) -> ClientResponse:
    return client.post(
        f"{URL}?{query if query is not None else 'sig=' + settings.MARKETPLACE_WEBHOOK_SECRET}",
        data=body,
        content_type="application/json",
    )


def _rows() -> tuple[int, int]:
    return MarketplaceEvent.objects.count(), SyncRun.objects.count()


def _assert_rejected_cleanly(response: ClientResponse, before: tuple[int, int]) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["error"]
    assert _rows() == before


HOSTILE_BODIES = {
    "nested 30,000 levels": "[" * 30_000 + "]" * 30_000,
    "nested 40 levels inside the payload": json.dumps(
        _payload(billingDetails=json.loads("[" * 40 + "]" * 40))
    ),
    "a 5,000-digit number": json.dumps(_payload())[:-1] + ', "n": ' + "9" * 5000 + "}",
    "a 50-digit number": json.dumps(_payload())[:-1] + ', "n": ' + "9" * 50 + "}",
    "a float that overflows": json.dumps(_payload())[:-1] + ', "n": 1e999}',
    "NaN": json.dumps(_payload())[:-1] + ', "n": NaN}',
    "Infinity": json.dumps(_payload())[:-1] + ', "n": -Infinity}',
    "a lone surrogate in a value": json.dumps(_payload())[:-1] + ', "n": "\\ud800"}',
    "a lone surrogate in a key": json.dumps(_payload())[:-1] + ', "\\udfff": 1}',
    "a NUL in a value": json.dumps(_payload())[:-1] + ', "n": "a\\u0000b"}',
    "a NUL in the plan": json.dumps(_payload(plan={"name": "a\x00b"})),
    "not UTF-8": b'{"eventType": "PUT", "x": "\xff\xfe"}',
    "year 9999 with a -23:59 offset": json.dumps(_payload(eventTime="9999-12-31T23:59:59-23:59")),
    "year 1 with a +23:59 offset": json.dumps(_payload(eventTime="0001-01-01T00:00:00+23:59")),
    "year 1": json.dumps(_payload(eventTime="0001-01-01T00:00:00Z")),
    "an eventTime that is a number": json.dumps(_payload(eventTime=1733480000)),
    "an eventTime of 10,000 characters": json.dumps(_payload(eventTime="2026" + "0" * 10_000)),
    "an applicationId of 10,000 characters": json.dumps(
        _payload(applicationId=APP_ID + "x" * 10_000)
    ),
    "an applicationId with a trailing newline": json.dumps(_payload(applicationId=APP_ID + "\n")),
    "an applicationId with a control character": json.dumps(
        _payload(applicationId=APP_ID.replace("fabrikam-apps", "fabrikam\x07apps"))
    ),
    "an applicationId that is an object": json.dumps(_payload(applicationId={"id": APP_ID})),
    "an eventType that is a list": json.dumps(_payload(eventType=["PUT"])),
    "a plan value of 10,000 characters": json.dumps(_payload(plan={"name": "x" * 10_000})),
    "a plan value that is an object": json.dumps(_payload(plan={"name": {"deep": 1}})),
    "empty": "",
    "whitespace": "   ",
    "null": "null",
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_each_hostile_body_gets_400_with_a_reason_and_nothing_is_stored(
    client: Client, settings: Settings, body: str
) -> None:
    _assert_rejected_cleanly(_post_raw(client, settings, body), _rows())


def test_an_id_with_a_trailing_newline_is_not_a_new_delivery(
    client: Client, settings: Settings
) -> None:
    assert _post_raw(client, settings, json.dumps(_payload())).status_code == 200
    _assert_rejected_cleanly(
        _post_raw(client, settings, json.dumps(_payload(applicationId=APP_ID + "\n"))), _rows()
    )
    assert MarketplaceEvent.objects.count() == 1


def test_the_edges_of_the_accepted_calendar_are_stored_as_sent(
    client: Client, settings: Settings
) -> None:
    for moment in ("2000-01-01T00:00:00Z", "2999-12-30T23:59:59.9999999+00:00"):
        response = _post_raw(client, settings, json.dumps(_payload(eventTime=moment)))
        assert response.status_code == 200, response.content
    assert MarketplaceEvent.objects.count() == 2


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ("eventType", "applicationId", "eventTime", "provisioningState", "plan", "billingDetails")


@PROPERTY
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_any_value_in_any_field_is_accepted_or_refused_with_a_reason(
    client: Client, settings: Settings, field: str, value: object
) -> None:
    body = json.dumps(_payload(**{field: value}), allow_nan=True)
    before = _rows()
    response = _post_raw(client, settings, body)
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["error"]
        assert _rows() == before


@PROPERTY
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_refused_with_a_reason(
    client: Client, settings: Settings, body: bytes
) -> None:
    before = _rows()
    response = _post_raw(client, settings, body)
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert _rows() == before


@PROPERTY
@given(query=st.text(max_size=80))
def test_any_query_string_is_answered_without_a_500(
    client: Client, settings: Settings, query: str
) -> None:
    response = _post_raw(client, settings, json.dumps(_payload()), query=query)
    assert response.status_code in (200, 401), response.content
