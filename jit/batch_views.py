"""Batch decisions from the requests list: the inbox's warnings, the POST that decides, and the
summary after it.

A refused batch re-renders the list (400) naming each problem, with the selection and reason
kept; nothing was written. A recorded batch redirects to its summary, which lists what was
decided and, for the hand-off channel, what to click in Azure.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import portal_access_required, recent_sign_in_required
from jit import batch, views
from jit.batch import BatchRefused
from jit.forms import BatchDecisionForm
from jit.models import JitRequest, State
from portal import rate_limits
from portal.types import AuthedRequest

# The last batch's summary: ids and decision only, read back through the person's scope.
SESSION_KEY = "jit_last_batch"


@portal_access_required
@recent_sign_in_required
@require_POST
@rate_limits.limit("actions", key="user_or_ip")
def decide(request: AuthedRequest) -> HttpResponse:
    form = BatchDecisionForm(request.POST)
    ids = request.POST.getlist("requests")
    try:
        if not form.is_valid():
            batch.selection(ids=ids, by=request.user)  # say everything wrong at once
            return _refused(request, form, ids, [])
        outcome = batch.jit_requests_decide(
            ids=ids,
            by=request.user,
            approve=form.approve,
            justification=form.cleaned_data["justification"],
        )
    except BatchRefused as exc:
        return _refused(request, form, ids, exc.problems)
    request.session[SESSION_KEY] = {
        "ids": [str(jit.pk) for jit in outcome.decided],
        "approve": outcome.approve,
        "reason": outcome.justification,
        "at": timezone.now().isoformat(),
    }
    return redirect("jit:batch_done")


def _refused(
    request: AuthedRequest, form: BatchDecisionForm, ids: list[str], problems: list[str]
) -> HttpResponse:
    context = views.list_context(
        request,
        batch_form=form,
        batch_problems=problems,
        selected=set(ids[: batch.MAX_BATCH]),
    )
    return render(request, "jit/request_list.html", context, status=400)


@portal_access_required
@require_GET
def done(request: AuthedRequest) -> HttpResponse:
    """What the last batch decided; polls itself while the PIM channel submits to Azure."""
    last: dict[str, Any] = request.session.get(SESSION_KEY) or {"ids": []}
    decided = list(
        JitRequest.objects.visible_to(request.user)
        .filter(pk__in=last["ids"])
        .select_related("application", "application__customer_tenant")
        .prefetch_related("operations")
        .order_by("created_at")
    )
    waiting = [jit for jit in decided if jit.state == State.PENDING and jit.handoff_decision]
    submitting = [jit for jit in decided if any(op.is_submitting for op in jit.operations.all())]
    context = {
        "last": last,
        "at": parse_datetime(str(last.get("at", ""))),
        "decided": decided,
        "steps": batch.handoff_steps(waiting),
        "waiting": waiting,
        "submitting": submitting,
        "polling": bool(waiting or submitting),
        "all_answered": all(jit.state != State.PENDING for jit in decided),
    }
    template = "jit/partials/batch_status.html" if request.htmx else "jit/batch_done.html"
    return render(request, template, context)


@portal_access_required
@require_GET
def warnings(request: AuthedRequest) -> HttpResponse:
    """The risk hints' warnings of each request in the inbox, swapped into its row (htmx)."""
    groups, _ = batch.inbox_groups(request.user, warnings=True)
    rows = [row for group in groups for row in group.rows]
    return render(request, "jit/partials/inbox_warnings.html", {"rows": rows})
