"""The operator's admin site as a whole: every registered model's changelist opens (with rows,
a search and each filter), Entra tokens never reach a page, and the operator actions log is
read-only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.test import RequestFactory
from django.urls import reverse

from accounts import crypto
from accounts.models import EntraCredential, Tenant, User
from tests.admin_rows import (
    ARM_TOKEN,
    REFRESH_TOKEN,
    changelist_url,
    fill_every_model,
    make_operator,
    signed_in_client,
)

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def rows(contoso: Tenant, fabrikam: Tenant, alice: User) -> None:
    fill_every_model(contoso, fabrikam, alice)


@pytest.mark.usefixtures("rows")
@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTERED, ids=[m._meta.label for m, _ in REGISTERED]
)
def test_every_changelist_opens_with_rows_a_search_and_each_filter(
    model: type[Model], model_admin: admin.ModelAdmin[Model]
) -> None:
    operator = make_operator()
    client = signed_in_client(operator)
    url = changelist_url(model)

    assert client.get(url).status_code == 200
    if model_admin.search_fields:
        assert client.get(url, {"q": "fabrikam"}).status_code == 200

    request = RequestFactory().get(url)
    request.user = operator
    changelist = model_admin.get_changelist_instance(request)
    queries = {
        str(choice["query_string"])
        for spec in changelist.filter_specs
        for choice in spec.choices(changelist)
    }
    assert queries or not model_admin.list_filter
    for query in sorted(queries):
        assert client.get(url + query).status_code == 200, query

    first = model_admin.get_queryset(request).first()
    if first is not None:
        change = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk]
        )
        assert client.get(change).status_code == 200


def test_a_staff_user_without_permissions_sees_no_changelist(rows: None) -> None:
    client = signed_in_client(make_operator(superuser=False, username="no-rights"))
    for model in (Tenant, EntraCredential, LogEntry):
        assert client.get(changelist_url(model)).status_code == 403


def test_entra_tokens_never_reach_an_admin_page(rows: None, alice: User) -> None:
    credential = EntraCredential.objects.get(user=alice)
    secrets = [
        REFRESH_TOKEN,
        ARM_TOKEN,
        bytes(credential.refresh_token_encrypted).decode(),
        bytes(credential.arm_token_encrypted or b"").decode(),
    ]
    client = signed_in_client(make_operator())
    pages = [
        changelist_url(EntraCredential),
        changelist_url(EntraCredential) + "?q=alice",
        reverse("admin:accounts_entracredential_change", args=[credential.pk]),
        reverse("admin:accounts_entracredential_history", args=[credential.pk]),
        reverse("admin:accounts_user_change", args=[alice.pk]),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert not [secret for secret in secrets if secret in html], page
    assert crypto.decrypt(credential.refresh_token_encrypted) == REFRESH_TOKEN  # the row was read


def test_entra_credentials_cannot_be_added_changed_or_deleted(rows: None, alice: User) -> None:
    credential = EntraCredential.objects.get(user=alice)
    client = signed_in_client(make_operator())
    assert client.get(reverse("admin:accounts_entracredential_add")).status_code == 403
    delete = reverse("admin:accounts_entracredential_delete", args=[credential.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert EntraCredential.objects.filter(pk=credential.pk).exists()


def test_the_operator_actions_log_is_read_only_for_everyone(rows: None) -> None:
    operator = make_operator()
    tenant_type = ContentType.objects.get_for_model(Tenant)
    entry = LogEntry.objects.create(
        user=operator,
        content_type=tenant_type,
        object_id="1",
        object_repr="Fabrikam",
        action_flag=CHANGE,
        change_message="Action: Block tenant",
    )
    client = signed_in_client(operator)
    listing = client.get(changelist_url(LogEntry), {"q": "Block tenant"})
    assert listing.status_code == 200
    assert "Operator actions" in listing.content.decode()
    assert "Action: Block tenant" in listing.content.decode()
    assert "delete_selected" not in listing.content.decode()
    for query in ({"user__id__exact": operator.pk}, {"action_flag__exact": CHANGE}):
        assert client.get(changelist_url(LogEntry), query).status_code == 200
    change = reverse("admin:admin_logentry_change", args=[entry.pk])
    assert client.get(change).status_code == 200  # opens, read-only
    assert client.post(change, {"change_message": "edited"}).status_code == 403
    assert client.get(reverse("admin:admin_logentry_add")).status_code == 403
    delete = reverse("admin:admin_logentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.change_message == "Action: Block tenant"
