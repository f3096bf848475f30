"""Write a mirrored row only when something changed."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

M = TypeVar("M", bound=models.Model)


def upsert(
    model: type[M],
    row: M | None,
    lookup: dict[str, Any],
    values: dict[str, Any],
    *,
    shared: bool = False,
) -> str | None:
    """Create the row, or update only the fields whose values differ; returns what happened.

    `shared` rows (offers, role definitions) are seen by several tenants' syncs at once: when
    another worker created the row first, this one updates it instead of failing.
    """
    if row is None:
        if not shared:
            model.objects.create(**lookup, **values)  # type: ignore[attr-defined]
            return "created"
        try:
            with transaction.atomic():
                model.objects.create(**lookup, **values)  # type: ignore[attr-defined]
            return "created"
        except IntegrityError:
            row = model.objects.get(**lookup)  # type: ignore[attr-defined]
    changed = {
        name: value
        for name, value in values.items()
        if _field_value(row, name) != (value.pk if isinstance(value, models.Model) else value)
    }
    if not changed:
        return None
    model.objects.filter(pk=row.pk).update(**changed)  # type: ignore[attr-defined]
    for name, value in changed.items():
        setattr(row, name, value)
    return "updated"


def _field_value(row: models.Model, name: str) -> Any:
    field = row._meta.get_field(name)
    if field.is_relation:
        return getattr(row, f"{name}_id")
    return getattr(row, name)
