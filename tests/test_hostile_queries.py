"""Hostile query strings, path ids and htmx headers on every page, and hostile values in the forms
not covered elsewhere (the JIT policy, the refresh button): never a 5xx, a page or a clear 4xx,
and nothing written by a read or by a refused form.

Query strings are built from raw bytes, so they hold what no browser form sends: invalid UTF-8,
NUL, broken percent escapes, repeated and unknown keys, numbers with hundreds of digits. The
cast and data are the isolation matrix's (`tests/test_isolation_matrix.py`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, TypedDict, cast
from urllib.parse import quote, quote_from_bytes

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from jit.models import AuditEvent, Operation
from tests.test_isolation_matrix import ROUTES, World, build_world, database_state

pytestmark = pytest.mark.django_db

PROPERTY = hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Every parameter a list or form of the portal reads, and a few it does not.
KNOWN_KEYS = [
    "q", "sort", "page", "offer", "plan", "state", "customer", "requester", "tenant",
    "application", "action", "next", "pk", "id", "csrfmiddlewaretoken",
]  # fmt: skip

TRICKY_VALUES = [
    b"", b" ", b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"%", b"'; DROP TABLE x;--", b'"',
    b'"zqtenant-fabrikam"', b"9" * 400, b"-1", b"0", b"1e309", b"NaN", b"x" * 5000,
    b"<script>alert(1)</script>", b"../../etc/passwd", b"\r\nSet-Cookie: a=b", b"\xe2\x80\xae",
]  # fmt: skip

raw_value = st.binary(max_size=40) | st.sampled_from(TRICKY_VALUES)
key = st.sampled_from(KNOWN_KEYS) | st.text(max_size=12)


@st.composite
def query_strings(draw: Any) -> str:
    pairs = draw(st.lists(st.tuples(key, raw_value), max_size=6))
    parts = [f"{quote(k, safe='')}={quote_from_bytes(v, safe='')}" for k, v in pairs]
    # Separators and escapes that are not well formed at all.
    parts += draw(st.lists(st.sampled_from(["%", "%zz", "a=b=c", "=", "&&", ";", "%00=1"])))
    return "&".join(draw(st.permutations(parts)))


class HtmxHeaders(TypedDict, total=False):
    HTTP_HX_REQUEST: str
    HTTP_HX_TARGET: str
    HTTP_HX_CURRENT_URL: str


# The dictionaries drawn have only HtmxHeaders' keys, with text values.
htmx_headers = cast(
    "st.SearchStrategy[HtmxHeaders]",
    st.fixed_dictionaries(
        {},
        optional={
            "HTTP_HX_REQUEST": st.sampled_from(["true", "false", ""]),
            "HTTP_HX_TARGET": st.sampled_from(["app_list", "customer_list", "", "x" * 300])
            | st.text(alphabet=st.characters(max_codepoint=255), max_size=30),
            "HTTP_HX_CURRENT_URL": st.sampled_from(["http://evil.example/", "javascript:x", ""]),
        },
    ),
)

PEOPLE = ["pat (publisher support)", "alice (Fabrikam admin)", "dana (Fabrikam reader, Tailspin admin)"]  # fmt: skip
READ_ROUTES = sorted(name for name, route in ROUTES.items() if route.get)


def _person(world: World, name: str) -> User:
    """One of the world's signed-in people (not the anonymous visitor)."""
    person = world.people[name]
    assert person is not None, name
    return person


@pytest.fixture
def world() -> World:
    return build_world()


def _path_ids(world: World, route_name: str) -> list[dict[str, Any]]:
    return [kwargs for _, _, kwargs in ROUTES[route_name].objects(world)]


@pytest.mark.parametrize("route_name", READ_ROUTES)
def test_any_query_on_any_page_answers_without_error_and_writes_nothing(
    client: Client, world: World, route_name: str
) -> None:
    ids = _path_ids(world, route_name)
    before = database_state()
    statuses: Counter[int] = Counter()

    @PROPERTY
    @given(
        person=st.sampled_from(PEOPLE),
        kwargs=st.sampled_from(ids),
        huge_id=st.none() | st.integers(min_value=2**31, max_value=10**40),
        query=query_strings(),
        headers=htmx_headers,
    )
    def ask(
        person: str,
        kwargs: dict[str, Any],
        huge_id: int | None,
        query: str,
        headers: HtmxHeaders,
    ) -> None:
        client.force_login(_person(world, person))
        if huge_id is not None and any(isinstance(v, int) for v in kwargs.values()):
            kwargs = {k: huge_id if isinstance(v, int) else v for k, v in kwargs.items()}
        url = reverse(route_name, kwargs=kwargs)
        response = client.get(url, QUERY_STRING=query, **headers)
        statuses[response.status_code] += 1
        assert response.status_code in (200, 302, 400, 403, 404), (url, query, headers)

    ask()
    print(f"\n{route_name}: {sum(statuses.values())} queries, answers {dict(statuses)}")
    assert database_state() == before


hostile_text = st.text(max_size=60) | st.sampled_from(
    ["", "\x00", "x" * 5000, "-1", "0", "25", "9" * 400, "ManualApprove", "AutoApprove"]
)


@PROPERTY
@given(
    data=st.fixed_dictionaries(
        {},
        optional={
            "approval_mode": hostile_text,
            "approvers": st.lists(hostile_text, max_size=3),
            "extra_approver_id": hostile_text | st.uuids().map(str),
            "extra_approver_type": hostile_text | st.sampled_from(["user", "group"]),
            "extra_approver_name": hostile_text,
            "maximum_hours": hostile_text | st.integers(-(10**20), 10**20).map(str),
            "reason": hostile_text,
        },
    )
)
@example(data={"approval_mode": "AutoApprove", "maximum_hours": "4", "reason": "\u202e"})
def test_any_policy_form_input_is_accepted_or_re_rendered(
    client: Client, world: World, data: dict[str, str]
) -> None:
    alice = _person(world, "alice (Fabrikam admin)")
    app = world.apps["fabc"]
    client.force_login(alice)
    before = (Operation.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse("jit:policy", args=[app.pk]), data)
    assert response.status_code in (200, 302), data
    if response.status_code == 302:  # accepted: one change recorded, to be written to Azure
        assert Operation.objects.count() == before[0] + 1
        Operation.objects.filter(kind=Operation.Kind.POLICY).delete()  # next example starts clean
    else:
        assert "errorlist" in response.text or "is-invalid" in response.text, data
        assert (Operation.objects.count(), AuditEvent.objects.count()) == before


@PROPERTY
@given(next_url=hostile_text | st.sampled_from(["//evil.example/", "https://evil.example/x"]))
def test_the_refresh_button_never_sends_anyone_elsewhere(
    client: Client, world: World, next_url: str
) -> None:
    client.force_login(_person(world, "bob (Fabrikam reader)"))
    response = client.post(
        reverse("deployments:refresh", args=[world.tenants["fabrikam"].pk]), {"next": next_url}
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith("//"), location
