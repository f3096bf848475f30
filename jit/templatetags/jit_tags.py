from __future__ import annotations

import datetime as dt

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html

register = template.Library()

BADGES = {
    "Submitting": "text-bg-info",
    "Pending": "text-bg-warning",
    "Approved": "text-bg-success",
    "Denied": "text-bg-danger",
    "Canceled": "text-bg-secondary",
    "Expired": "text-bg-light border",
    "Timeout": "text-bg-secondary",
    "Failed": "text-bg-danger",
    "Gone": "text-bg-secondary",
    "Unknown": "text-bg-light border",
}


@register.filter
def state_badge(state: str) -> str:
    return BADGES.get(state, "text-bg-light")


@register.filter
def span(value: dt.timedelta | None) -> str:
    """A duration in words: "4 h", "1 h 30 min", "45 min"."""
    if value is None:
        return "not set"
    minutes = max(0, int(value.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return " ".join(p for p in parts if p) or "0 min"


@register.filter
def until(value: dt.datetime | None) -> str:
    """Time left until a moment, in words ("2 h 5 min"); "now" once it has passed."""
    if value is None:
        return ""
    left = value - timezone.now()
    return span(left) if left.total_seconds() > 60 else "less than a minute"


_WHEN_FORMATS = {"datetime": "Y-m-d H:i \\U\\T\\C", "date": "Y-m-d", "time": "H:i \\U\\T\\C"}


@register.simple_tag
def when(value: dt.datetime | None, kind: str = "datetime") -> str:
    """A moment as <time>: UTC in the page, rewritten to the viewer's time zone by portal.js."""
    if value is None:
        return ""
    text = dateformat.format(timezone.localtime(value), _WHEN_FORMATS[kind])
    return format_html(
        '<time datetime="{}" data-local="{}">{}</time>', value.isoformat(), kind, text
    )
