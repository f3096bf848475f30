"""Lists counted up to a cap: exact below it, "more than" above it, paged on without a total."""

import uuid

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from accounts.models import Side, Tenant
from portal.pagination import CappedPaginator

pytestmark = pytest.mark.django_db


def _tenants(count: int) -> None:
    Tenant.objects.bulk_create(
        Tenant(entra_tenant_id=uuid.uuid4(), display_name=f"T{n:03d}", side=Side.CUSTOMER)
        for n in range(count)
    )


def _rows() -> QuerySet[Tenant]:
    return Tenant.objects.order_by("display_name")


def test_below_the_cap_it_pages_like_any_paginator() -> None:
    _tenants(7)
    paginator = CappedPaginator(_rows(), 3, cap=10)

    assert (paginator.count, paginator.num_pages, paginator.is_capped) == (7, 3, False)
    last = paginator.get_page(3)
    assert [t.display_name for t in last] == ["T006"]
    assert not last.has_next()
    assert paginator.get_page(99).number == 3  # out of range: the last page, as Django does


def test_above_the_cap_it_says_more_and_pages_on_while_pages_are_full() -> None:
    _tenants(12)
    paginator = CappedPaginator(_rows(), 3, cap=5)

    assert (paginator.count, paginator.is_capped) == (6, True)
    first = paginator.get_page(1)
    assert [t.display_name for t in first] == ["T000", "T001", "T002"]
    assert first.has_next()
    fourth = paginator.get_page(4)  # past the cap: still served
    assert [t.display_name for t in fourth] == ["T009", "T010", "T011"]
    assert (fourth.start_index(), fourth.end_index()) == (10, 12)
    assert not fourth.has_next()
    assert paginator.get_page(5).number == 1  # nothing there: back to the start
    assert paginator.get_page("x").number == 1


def test_counting_is_one_query_that_stops_at_the_cap() -> None:
    _tenants(30)
    paginator = CappedPaginator(_rows(), 3, cap=5)

    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 6
    assert len(queries) == 1
    assert "LIMIT 6" in queries[0]["sql"]
