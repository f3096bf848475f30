import pytest
from django.db import IntegrityError, transaction
from pytest_django import DjangoAssertNumQueries

from deployments.models import Offer
from deployments.upsert import upsert

KEY = {"key": "plan:contoso/analytics/gold/1.0.0"}


@pytest.mark.django_db
def test_nothing_changed_writes_nothing(django_assert_num_queries: DjangoAssertNumQueries) -> None:
    values = {"kind": Offer.Kind.MARKETPLACE, "display_name": "Analytics"}
    assert upsert(Offer, None, KEY, values) == "created"
    row = Offer.objects.get(**KEY)
    with django_assert_num_queries(0):
        assert upsert(Offer, row, KEY, values) is None
    assert upsert(Offer, row, KEY, {**values, "display_name": "Analytics 2"}) == "updated"
    assert Offer.objects.get(**KEY).display_name == "Analytics 2"


@pytest.mark.django_db
def test_a_shared_row_another_worker_created_first_is_updated_not_duplicated() -> None:
    Offer.objects.create(**KEY, kind=Offer.Kind.MARKETPLACE, display_name="Old name")
    # This worker had not seen the row when it looked (row=None).
    outcome = upsert(
        Offer, None, KEY, {"kind": Offer.Kind.MARKETPLACE, "display_name": "New"}, shared=True
    )
    assert outcome == "updated"
    assert Offer.objects.get(**KEY).display_name == "New"


@pytest.mark.django_db
def test_without_shared_a_duplicate_is_an_error() -> None:
    Offer.objects.create(**KEY, kind=Offer.Kind.MARKETPLACE, display_name="Old name")
    with pytest.raises(IntegrityError), transaction.atomic():
        upsert(Offer, None, KEY, {"kind": Offer.Kind.MARKETPLACE, "display_name": "New"})
