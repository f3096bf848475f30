"""Pagination for lists that grow without bound (JIT requests, the audit trail): rows are counted
up to a cap, so the count costs the same whether 2,000 or 2 million rows match.

Past the cap the list says "more than 1,000" and goes on page by page (Next stays offered while
a page is full), and the filters narrow it down; nobody reads page 600 of a list.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import EmptyPage, InvalidPage, Page, PageNotAnInteger, Paginator
from django.db.models import QuerySet

COUNT_CAP = 1000


class CappedPaginator(Paginator):  # type: ignore[type-arg]  # django-stubs: Paginator[T] is generic
    def __init__(self, rows: QuerySet[Any], per_page: int, *, cap: int | None = None) -> None:
        super().__init__(rows, per_page)
        self.rows = rows
        self.cap = COUNT_CAP if cap is None else cap

    @cached_property
    def count(self) -> int:
        """Matching rows, at most `cap + 1` of them counted (one more tells "more than"); in no
        order, so the database stops at the cap."""
        return self.rows.order_by()[: self.cap + 1].count()

    @property
    def is_capped(self) -> bool:
        return self.count > self.cap

    def validate_number(self, number: Any) -> int:
        if not self.is_capped:
            return int(super().validate_number(number))
        try:
            value = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not an integer") from None
        if value < 1:
            raise EmptyPage("That page number is less than 1")
        return value

    def page(self, number: Any) -> Page:  # type: ignore[type-arg]
        number = self.validate_number(number)
        if not self.is_capped:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        # One row past the page says whether there is a next one.
        rows = list(self.rows[bottom : bottom + self.per_page + 1])
        if not rows and number > 1:
            raise EmptyPage("That page contains no results")
        return CappedPage(rows[: self.per_page], number, self, has_more=len(rows) > self.per_page)

    def get_page(self, number: Any) -> Page:  # type: ignore[type-arg]
        try:
            return self.page(number)
        except PageNotAnInteger:
            return self.page(1)
        except (EmptyPage, InvalidPage):
            if self.is_capped:
                return self.page(1)
            return self.page(self.num_pages)


class CappedPage(Page):  # type: ignore[type-arg]
    """A page of a list counted only up to its cap: no page count, a next page while full."""

    def __init__(self, rows: list[Any], number: int, paginator: Paginator, *, has_more: bool):  # type: ignore[type-arg]
        super().__init__(rows, number, paginator)
        self.has_more = has_more

    def has_next(self) -> bool:
        return self.has_more

    def end_index(self) -> int:
        return self.start_index() + len(self.object_list) - 1
