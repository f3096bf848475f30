"""A stand-in for the Azure portal's JIT Access blade of a managed application (*Approve
requests*), served on the plain-HTTP port: where the hand-off channel sends a customer admin
to make the decision. Only a stand-in: the real blade is Microsoft's and not an API."""

import html

from werkzeug.wrappers import Request, Response

from emulator import jit
from emulator.http import ArmError
from emulator.records import Application, JitRequest
from emulator.state import State

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.4rem;"
    "text-align:left;vertical-align:top}textarea{width:100%}button{font:inherit;margin-right:.5rem}"
    ".note{background:#eef;padding:.5rem 1rem}.error{background:#fdd;padding:.5rem 1rem}"
    ".ok{background:#dfd;padding:.5rem 1rem}small{color:#555}"
)


def _page(title: str, body: str, status: int = 200) -> Response:
    text = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return Response(text, status=status, mimetype="text/html")


def _deciders(state: State, request: JitRequest) -> list[tuple[str, str]]:
    people = sorted(state.people.values(), key=lambda p: p.name)
    return [(p.oid, p.name) for p in people if jit.refusal_to_decide(state, request, p.oid) is None]


def _row(state: State, request: JitRequest, app: Application) -> str:
    role = request.policies[0]["roleDefinitionId"] if request.policies else ""
    role_name = state.role_definitions[role].name if role in state.role_definitions else role
    principal = request.policies[0]["principalId"] if request.policies else ""
    options = "".join(
        f"<option value='{html.escape(oid)}'>{html.escape(name)}</option>"
        for oid, name in _deciders(state, request)
    )
    form = (
        "<form method='post'>"
        f"<input type='hidden' name='request' value='{html.escape(request.id)}'>"
        f"<label>Deciding as <select name='as'>{options}</select></label>"
        f"<label for='reason-{html.escape(request.name)}'>Reason (required)</label>"
        f"<textarea id='reason-{html.escape(request.name)}' name='reason' rows='2'></textarea>"
        "<button type='submit' name='decision' value='Approve'>Approve</button>"
        "<button type='submit' name='decision' value='Deny'>Deny</button></form>"
        if options
        else "<small>Nobody in this scenario may decide it.</small>"
    )
    return (
        f"<tr><td><strong>{html.escape(request.name)}</strong><br><small>{html.escape(request.id)}"
        f"</small></td><td>{html.escape(role_name)}</td><td>{html.escape(state.principal_name(principal))}"
        f"</td><td>{html.escape(request.start.isoformat(timespec='minutes'))}<br>"
        f"{html.escape(request.duration_text)}</td><td>{form}</td></tr>"
    )


def jit_access(state: State, request: Request) -> Response:
    """GET lists the application's pending requests; POST decides one."""
    app_id = request.args.get("application", "")
    with state.lock:
        app = state.applications.get(app_id.lower())
        if app is None:
            return _page(
                "Not found", "<p class='error'>No such managed application.</p>", status=404
            )
        message, status = "", 200
        if request.method == "POST":
            message, status = _decide(state, request)
        pending = sorted(
            (r for r in state.jit_requests_of(app.id) if r.state == "Pending"),
            key=lambda r: r.created_at,
        )
        rows = "".join(_row(state, r, app) for r in pending)
        table = (
            "<table><tr><th>Request</th><th>Role</th><th>For</th><th>Start, duration</th>"
            f"<th>Decision</th></tr>{rows}</table>"
            if rows
            else "<p>No request is waiting for approval.</p>"
        )
        body = (
            "<p class='note'>Local Azure emulator: a stand-in for the Azure portal's "
            "<strong>JIT Access → Approve requests</strong> page of this managed application.</p>"
            f"<h1>Approve requests: {html.escape(app.name)}</h1>{message}{table}"
        )
    return _page(f"JIT Access - {app.name}", body, status)


def _decide(state: State, request: Request) -> tuple[str, int]:
    request_id = request.form.get("request", "")
    found = state.jit_requests.get(request_id.lower())
    if found is None:
        return "<p class='error'>No such request.</p>", 404
    approve = request.form.get("decision") == "Approve"
    try:
        jit.decide_in_portal(
            state,
            found,
            oid=request.form.get("as", ""),
            approve=approve,
            justification=request.form.get("reason", ""),
        )
    except ArmError as exc:
        return f"<p class='error' role='alert'>{html.escape(exc.message)}</p>", exc.status
    outcome = "Approved" if approve else "Denied"
    return f"<p class='ok' role='status'>{html.escape(found.name)}: {outcome}.</p>", 200
