from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from azure_gateway.records import JitApprover, JitPolicy
from jit.models import AuditEvent, State
from jit.services import EligibleRole

DURATION_CHOICES = [(h, f"{h} hour{'s' if h > 1 else ''}") for h in (1, 2, 4, 8, 12, 24)]


class RequestListForm(forms.Form):
    """Filters of the requests list. Customers are searched by name (or Entra tenant id), not
    picked from a menu: a publisher may have thousands."""

    customer = forms.CharField(label="Customer", required=False, max_length=200)
    state = forms.ChoiceField(
        label="State", choices=[("", "Any state"), *State.choices], required=False
    )
    requester = forms.CharField(label="Requester", required=False, max_length=100)


# The portal's own bound (Azure documents none): far enough ahead to plan a maintenance window,
# near enough that the customer decides about work that is actually planned.
LATEST_START = dt.timedelta(days=30)


class ElevationForm(forms.Form):
    """A publisher's request: one eligible role, start now or later, up to the policy maximum."""

    role = forms.ChoiceField(label="Role on the managed resource group")
    start_now = forms.TypedChoiceField(
        label="Start",
        choices=[("1", "Now"), ("0", "Later")],
        coerce=lambda v: v == "1",
        initial="1",
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    start_at = forms.DateTimeField(
        label="Start at, in UTC (only when starting later)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    hours = forms.TypedChoiceField(label="Duration", coerce=int, choices=DURATION_CHOICES)
    justification = forms.CharField(
        label="Why you need it",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The customer's approvers read this before deciding.",
    )
    ticket_reference = forms.CharField(label="Ticket reference", max_length=100, required=False)

    def __init__(
        self, *args: Any, roles: list[EligibleRole], maximum: dt.timedelta | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.roles = {r.role_definition_id: r for r in roles}
        role, hours = self.fields["role"], self.fields["hours"]
        assert isinstance(role, forms.ChoiceField)
        assert isinstance(hours, forms.ChoiceField)
        role.choices = [(r.role_definition_id, r.name) for r in roles]
        self.maximum = maximum
        if maximum is not None:
            hours.choices = [
                (h, label) for h, label in DURATION_CHOICES if dt.timedelta(hours=h) <= maximum
            ] or DURATION_CHOICES[:1]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start_now") is False:
            start = data.get("start_at")
            if start is None:
                self.add_error("start_at", "Pick when the access should start.")
            elif start < timezone.now():
                self.add_error("start_at", "The start must be in the future.")
            elif start > timezone.now() + LATEST_START:
                self.add_error(
                    "start_at",
                    f"The start can be at most {LATEST_START.days} days ahead; ask again nearer "
                    "the time.",
                )
        return data

    @property
    def chosen_role(self) -> EligibleRole:
        return self.roles[self.cleaned_data["role"]]

    @property
    def start(self) -> dt.datetime:
        if self.cleaned_data["start_now"]:
            return timezone.now()
        start: dt.datetime = self.cleaned_data["start_at"]
        return start

    @property
    def duration(self) -> dt.timedelta:
        return dt.timedelta(hours=self.cleaned_data["hours"])


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("deny", "Deny")])
    # Azure's approval stage needs a reason for approvals as well as denials.
    justification = forms.CharField(
        max_length=1000,
        error_messages={"required": "Give a reason: the publisher and the audit trail see it."},
    )

    @property
    def approve(self) -> bool:
        return bool(self.cleaned_data["decision"] == "approve")


class BatchDecisionForm(forms.Form):
    """The decision and reason of a batch (`jit.batch`); the requests are checked there."""

    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("deny", "Deny")],
        error_messages={
            "required": "Choose Approve selected or Deny selected.",
            "invalid_choice": "Choose Approve selected or Deny selected.",
        },
    )
    justification = forms.CharField(
        label="Reason for these decisions",
        max_length=1000,
        error_messages={
            "required": "Give a reason: the publisher and the audit trail see it with each "
            "decision.",
        },
    )

    @property
    def approve(self) -> bool:
        return bool(self.cleaned_data["decision"] == "approve")


class RevokeForm(forms.Form):
    reason = forms.CharField(max_length=1000, required=False)


class PolicyForm(forms.Form):
    """Mode, approvers and maximum duration of an app's jitAccessPolicy."""

    approval_mode = forms.ChoiceField(
        label="Approval",
        choices=[
            ("ManualApprove", "Manual: an approver must approve each request"),
            ("AutoApprove", "Automatic: requests are granted, approvers are only told"),
        ],
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    approvers = forms.MultipleChoiceField(
        label="Approvers",
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    extra_approver_id = forms.UUIDField(
        label="Add a person or group by Entra object id", required=False
    )
    extra_approver_type = forms.ChoiceField(
        label="Type", choices=[("group", "Group"), ("user", "Person")], required=False
    )
    extra_approver_name = forms.CharField(label="Display name", max_length=200, required=False)
    maximum_hours = forms.IntegerField(
        label="Maximum duration (hours)", min_value=1, max_value=24, initial=8
    )
    reason = forms.CharField(label="Why the change", max_length=500, required=False)

    def __init__(self, *args: Any, candidates: list[JitApprover], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.candidates = {a.id.lower(): a for a in candidates}
        approvers = self.fields["approvers"]
        assert isinstance(approvers, forms.ChoiceField)
        approvers.choices = [
            (a.id.lower(), f"{a.display_name} ({'group' if a.type == 'group' else 'person'})")
            for a in candidates
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        extra = data.get("extra_approver_id")
        if extra and not data.get("extra_approver_name", "").strip():
            self.add_error("extra_approver_name", "Give the approver a name people recognise.")
        chosen = [self.candidates[i] for i in data.get("approvers", []) if i in self.candidates]
        if extra:
            chosen.append(
                JitApprover(
                    id=str(extra),
                    type=data.get("extra_approver_type") or "user",
                    display_name=data.get("extra_approver_name", "").strip(),
                )
            )
        if data.get("approval_mode") == "ManualApprove" and not chosen:
            self.add_error("approvers", "Manual approval needs at least one approver.")
        data["chosen"] = tuple({a.id.lower(): a for a in chosen}.values())
        return data

    def policy(self) -> JitPolicy:
        return JitPolicy(
            enabled=True,
            approval_mode=self.cleaned_data["approval_mode"],
            approvers=self.cleaned_data["chosen"],
            maximum_duration=dt.timedelta(hours=self.cleaned_data["maximum_hours"]),
        )


class AuditFilterForm(forms.Form):
    """Filters of the audit trail; applications and customers are searched by name."""

    tenant = forms.CharField(label="Customer", required=False, max_length=200)
    application = forms.CharField(label="Application", required=False, max_length=100)
    action = forms.ChoiceField(
        label="Event", choices=[("", "Any event"), *AuditEvent.Action.choices], required=False
    )
