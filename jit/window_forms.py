"""The approval window form: days, local start and end, time zone; no overlap within an app."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from deployments.models import ManagedApplication
from jit.window_display import local_span
from jit.window_models import WEEKDAYS, ApprovalWindow
from jit.window_times import first_overlap, slots, time_zone_names

# Enough for any maintenance plan; a bound keeps the overlap check cheap.
MAX_WINDOWS_PER_APP = 20
# Overlaps are looked for over a year of occurrences: every DST change in between is seen.
OVERLAP_HORIZON = dt.timedelta(days=371)


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(time_zone_names())]


class ApprovalWindowForm(forms.Form):
    weekdays = forms.TypedMultipleChoiceField(
        label="Starts on",
        choices=list(enumerate(WEEKDAYS)),
        coerce=int,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        error_messages={"required": "Pick at least one day."},
    )
    start_time = forms.TimeField(
        label="From (local time)",
        input_formats=["%H:%M"],
        widget=forms.TimeInput(attrs={"type": "time", "class": "form-control"}, format="%H:%M"),
        error_messages={"invalid": "Give a time as HH:MM, e.g. 02:00."},
    )
    end_time = forms.TimeField(
        label="Until (local time)",
        input_formats=["%H:%M"],
        widget=forms.TimeInput(attrs={"type": "time", "class": "form-control"}, format="%H:%M"),
        error_messages={"invalid": "Give a time as HH:MM, e.g. 06:00."},
        help_text="An end at or before the start ends the next day (22:00 to 02:00); the same "
        "time as the start means 24 hours.",
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={"invalid_choice": "Pick a time zone from the list."},
    )
    enabled = forms.BooleanField(
        label="Enabled",
        required=False,
        initial=True,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(
        self,
        *args: Any,
        application: ManagedApplication,
        window: ApprovalWindow | None = None,
        **kwargs: Any,
    ) -> None:
        if window is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "weekdays": window.weekdays,
                "start_time": window.start_time,
                "end_time": window.end_time,
                "time_zone": window.time_zone,
                "enabled": window.enabled,
            }
        super().__init__(*args, **kwargs)
        self.application, self.window = application, window
        zone_field = self.fields["time_zone"]
        assert isinstance(zone_field, forms.ChoiceField)
        zone_field.choices = _time_zone_choices()
        zone_field.initial = settings.CUSTOMER_TIME_ZONE

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.application.jit_enabled:
            raise forms.ValidationError(
                "JIT access is off on this application, so there is no approval to switch: "
                "Azure only turns JIT on when an application is deployed."
            )
        others = ApprovalWindow.objects.live().filter(application=self.application)
        if self.window is not None:
            others = others.exclude(pk=self.window.pk)
        if self.window is None and others.count() >= MAX_WINDOWS_PER_APP:
            raise forms.ValidationError(
                f"An application can have at most {MAX_WINDOWS_PER_APP} windows."
            )
        needed = ("weekdays", "start_time", "end_time", "time_zone")
        if self.errors or not all(data.get(name) not in (None, "", []) for name in needed):
            return data
        if not data.get("enabled"):
            return data  # a disabled window opens nothing, so it overlaps nothing
        self._refuse_overlap(data, list(others))
        return data

    def _refuse_overlap(self, data: dict[str, Any], others: list[ApprovalWindow]) -> None:
        now = timezone.now()
        until = now + OVERLAP_HORIZON

        def found(weekdays: list[int], start: dt.time, end: dt.time, zone: str) -> list[Any]:
            return list(
                slots(
                    weekdays=weekdays, start=start, end=end, time_zone=zone, after=now, until=until
                )
            )

        mine = found(data["weekdays"], data["start_time"], data["end_time"], data["time_zone"])
        for other in others:
            theirs = found(other.weekdays, other.start_time, other.end_time, other.time_zone)
            clash = first_overlap([mine, theirs])
            if clash is not None:
                first = clash[0] if clash[0] in theirs else clash[1]
                raise forms.ValidationError(
                    "This overlaps another window of the application "
                    f"({other}, e.g. {local_span(first.starts_at, first.ends_at, other.time_zone)})."
                    " Windows of one application may not overlap."
                )
