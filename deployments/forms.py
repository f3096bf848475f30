"""Search, filter and sort forms of the deployments lists. All are GET forms: a list's URL says
everything about what it shows, so it can be bookmarked and shared."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from deployments.models import Offer

if TYPE_CHECKING:
    from django.db.models import QuerySet


class ListForm(forms.Form):
    """A search box and a sort order; invalid input falls back to the defaults."""

    SORTS: tuple[tuple[str, str], ...] = ()

    q = forms.CharField(label="Search", required=False, max_length=100, strip=True)
    sort = forms.ChoiceField(
        label="Sort by", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sort = self.fields["sort"]
        assert isinstance(sort, forms.ChoiceField)
        sort.choices = self.SORTS

    @property
    def is_filtered(self) -> bool:
        return bool(self.value("q"))

    def value(self, name: str) -> Any:
        """The cleaned value of a field, or "" when it is empty or not valid (others still apply)."""
        self.is_valid()
        return self.cleaned_data.get(name) or ""


class AppListForm(ListForm):
    SORTS = (
        ("name", "Name (A to Z)"),
        ("-name", "Name (Z to A)"),
        ("offer", "Offer and plan"),
        ("state", "Provisioning state"),
        ("-confirmed", "Recently confirmed first"),
        ("confirmed", "Least recently confirmed first"),
    )


class CustomerListForm(ListForm):
    SORTS = (
        ("name", "Name (A to Z)"),
        ("-name", "Name (Z to A)"),
        ("apps", "Most applications"),
        ("failed", "Most failed applications"),
        ("synced", "Least recently synced first"),
        ("-synced", "Recently synced first"),
    )
    STATES = (
        ("", "Any state"),
        ("succeeded", "Succeeded"),
        ("in_progress", "In progress"),
        ("failed", "Failed or canceled"),
        ("removing", "Being deleted"),
    )

    offer = forms.ModelChoiceField(
        label="Offer version",
        queryset=Offer.objects.none(),
        required=False,
        empty_label="Any offer",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    plan = forms.ChoiceField(
        label="Plan", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )
    state = forms.ChoiceField(
        label="State",
        required=False,
        choices=STATES,
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args: Any, offers: QuerySet[Offer], plans: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        offer, plan = self.fields["offer"], self.fields["plan"]
        assert isinstance(offer, forms.ModelChoiceField)
        assert isinstance(plan, forms.ChoiceField)
        offer.queryset = offers
        plan.choices = [("", "Any plan"), *((p, p) for p in plans)]

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.value("q") or self.value("offer") or self.value("plan") or self.value("state")
        )

    def filters(self) -> dict[str, Any]:
        return {
            "search": self.value("q"),
            "offer": self.value("offer") or None,
            "plan": self.value("plan"),
            "state": self.value("state"),
            "sort": self.value("sort") or "name",
        }
