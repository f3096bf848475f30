"""The isolation matrix: every URL pattern of the portal, asked by every kind of person, with the
ids of every tenant's objects in its path parameters, by GET and POST, as a page and as an htmx
fragment.

The expected answer of each cell comes from the product's rules written out below (`Oracle`),
not from the code under test:
- a customer tenant's people see its applications and everything on them; a publisher's people
  see the applications of their offers in any customer tenant; nobody else sees either;
- customers may also read public Marketplace listings; a Service Catalog definition stays with
  its publisher and the tenants that use it;
- only a customer admin of the application's tenant decides, revokes or edits the policy; only
  the publisher asks for or withdraws elevation; anyone who may see a tenant may refresh it;
- a pending or blocked tenant, a person without a role, an inactive account and the anonymous
  see nothing at all.

A cell fails when a page shows a marker of something the person may not see, when a change is
written by someone the rules do not allow, when an allowed page does not show its object (so the
matrix would notice if every answer were a 404), or on any 5xx. Each route prints its cells.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import EntraCredential, Membership, Role, Side, Tenant, User
from deployments.models import ManagedApplication, Offer, PermissionChangeEvent, SyncRun
from jit.models import AuditEvent, JitRequest, Operation, State
from jit.window_models import ApprovalWindow, ApprovalWindowOccurrence

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"

# Not asked in the matrix, each for a reason of its own.
OUTSIDE_THE_MATRIX = {
    "healthz": "public by design; its body is tested in tests/portal/test_health.py",
    "readyz": "public by design; its body is tested in tests/portal/test_readyz.py",
    "marketplace_webhook": "authenticated by its secret, not by a person: tests/deployments",
    "metrics": "authenticated by its bearer token, not by a person: tests/portal/test_metrics.py",
}
EXTERNAL_PREFIXES = ("admin/", "auth/")  # Django's admin and allauth keep their own rules

CUSTOMER_ROLES = (Role.CUSTOMER_ADMIN, Role.CUSTOMER_READER)
PUBLISHER_ROLES = (Role.PUBLISHER_ADMIN, Role.PUBLISHER_SUPPORT)


# --- The world: four allowed tenants, a pending and a blocked one, and their objects. ---------


@dataclasses.dataclass
class World:
    tenants: dict[str, Tenant]
    people: dict[str, User | None]  # None: the anonymous visitor
    offers: dict[str, Offer]
    apps: dict[str, ManagedApplication]
    requests: dict[str, JitRequest]
    runs: dict[str, SyncRun]
    windows: dict[str, ApprovalWindow] = dataclasses.field(default_factory=dict)


def _tenant(key: str, side: str, state: str = Tenant.State.ALLOWED) -> Tenant:
    return Tenant.objects.create(
        entra_tenant_id=uuid.uuid4(), display_name=f"zqtenant-{key}", side=side, state=state
    )


def _person(key: str, *roles: tuple[Tenant, str], active: bool = True) -> User:
    oid = uuid.uuid4()
    home = roles[0][0] if roles else None
    user = User.objects.create(
        username=f"zq-{key}",
        display_name=f"Person {key}",
        entra_tenant_id=home.entra_tenant_id if home else uuid.uuid4(),
        entra_object_id=oid,
        is_active=active,
    )
    for tenant, role in roles:
        Membership.objects.create(user=user, tenant=tenant, role=role)
    # A fresh sign-in, so sensitive actions reach their scope checks instead of a re-sign-in.
    EntraCredential.objects.create(user=user, refresh_token_encrypted=b"unused")
    return user


def _offer(key: str, kind: str, publisher: Tenant | None) -> Offer:
    return Offer.objects.create(
        key=f"plan:zq/{key}/plan/1.0.0",
        kind=kind,
        publisher_tenant=publisher,
        display_name=f"zqoffer-{key}",
        jit_offered=True,
        authorizations=[{"principalId": str(uuid.uuid4()), "roleDefinitionId": CONTRIBUTOR}],
    )


def _app(key: str, tenant: Tenant, offer: Offer) -> ManagedApplication:
    subscription = str(uuid.uuid4())
    name = f"zqapp-{key}"
    return ManagedApplication.objects.create(
        arm_id=f"/subscriptions/{subscription}/resourceGroups/rg-{key}"
        f"/providers/Microsoft.Solutions/applications/{name}",
        customer_tenant=tenant,
        offer=offer,
        subscription_id=subscription,
        resource_group=f"rg-{key}",
        name=name,
        location="westeurope",
        kind=offer.kind,
        managed_resource_group_id=f"/subscriptions/{subscription}/resourceGroups/mrg-{key}",
        provisioning_state="Succeeded",
        publisher_tenant_id=str(offer.publisher_tenant.entra_tenant_id)
        if offer.publisher_tenant
        else str(uuid.uuid4()),
        jit_enabled=True,
        jit_approval_mode="ManualApprove",
        jit_approvers=[],
        jit_maximum_duration=dt.timedelta(hours=8),
    )


def _request(key: str, app: ManagedApplication, requester: User | None, state: str) -> JitRequest:
    name = f"zq{key}"
    jit = JitRequest.objects.create(
        application=app,
        arm_id=f"{app.arm_id.rsplit('/providers/', 1)[0]}"
        f"/providers/Microsoft.Solutions/jitRequests/{name}",
        name=name,
        requested_by=requester,
        requester_oid=str(requester.entra_object_id) if requester else str(uuid.uuid4()),
        requester_name=requester.display_name if requester else "Someone elsewhere",
        principal_id=str(requester.entra_object_id) if requester else str(uuid.uuid4()),
        role_definition_id=CONTRIBUTOR,
        start=timezone.now(),
        duration=dt.timedelta(hours=2),
        justification=f"zqwhy-{key}",
        state=state,
        grant_started_at=timezone.now() if state == State.APPROVED else None,
    )
    AuditEvent.objects.create(
        action=AuditEvent.Action.REQUESTED,
        actor=requester,
        actor_name=jit.requester_name,
        tenant=app.customer_tenant,
        application=app,
        jit_request=jit,
        reason=f"zqaudit-{key}",
    )
    return jit


def build_world() -> World:
    t = {
        "contoso": _tenant("contoso", Side.PUBLISHER),
        "fabrikam": _tenant("fabrikam", Side.CUSTOMER),
        "northwind": _tenant("northwind", Side.CUSTOMER),
        "tailspin": _tenant("tailspin", Side.CUSTOMER),
        "woodgrove": _tenant("woodgrove", Side.CUSTOMER, Tenant.State.PENDING),
        "adatum": _tenant("adatum", Side.CUSTOMER, Tenant.State.BLOCKED),
    }
    pat = _person("pat", (t["contoso"], Role.PUBLISHER_SUPPORT))
    people: dict[str, User | None] = {
        "anonymous": None,
        "pat (publisher support)": pat,
        "paula (publisher admin)": _person("paula", (t["contoso"], Role.PUBLISHER_ADMIN)),
        "alice (Fabrikam admin)": _person("alice", (t["fabrikam"], Role.CUSTOMER_ADMIN)),
        "bob (Fabrikam reader)": _person("bob", (t["fabrikam"], Role.CUSTOMER_READER)),
        "charlie (Northwind admin)": _person("charlie", (t["northwind"], Role.CUSTOMER_ADMIN)),
        "dana (Fabrikam reader, Tailspin admin)": _person(
            "dana", (t["fabrikam"], Role.CUSTOMER_READER), (t["tailspin"], Role.CUSTOMER_ADMIN)
        ),
        "wendy (admin of a pending tenant)": _person(
            "wendy", (t["woodgrove"], Role.CUSTOMER_ADMIN)
        ),
        "ada (admin of a blocked tenant)": _person("ada", (t["adatum"], Role.CUSTOMER_ADMIN)),
        "nemo (signed in, no role)": _person("nemo"),
        "olga (former Fabrikam admin, inactive)": _person(
            "olga", (t["fabrikam"], Role.CUSTOMER_ADMIN), active=False
        ),
    }
    offers = {
        "contoso-market": _offer("contoso-market", Offer.Kind.MARKETPLACE, t["contoso"]),
        "contoso-catalog": _offer("contoso-catalog", Offer.Kind.SERVICE_CATALOG, t["contoso"]),
        # Another publisher's offer, whose people never use this portal.
        "litware": _offer("litware", Offer.Kind.MARKETPLACE, None),
    }
    apps = {
        "fabc": _app("fabc", t["fabrikam"], offers["contoso-market"]),
        "fabl": _app("fabl", t["fabrikam"], offers["litware"]),
        "nwcat": _app("nwcat", t["northwind"], offers["contoso-catalog"]),
        "tsc": _app("tsc", t["tailspin"], offers["contoso-market"]),
        "tsl": _app("tsl", t["tailspin"], offers["litware"]),
        "wgc": _app("wgc", t["woodgrove"], offers["contoso-market"]),
        "adl": _app("adl", t["adatum"], offers["litware"]),
    }
    requests: dict[str, JitRequest] = {}
    for key, app in apps.items():
        requester = pat if _offer_of(app).publisher_tenant_id else None
        requests[f"{key}p"] = _request(f"{key}p", app, requester, State.PENDING)
        requests[f"{key}a"] = _request(f"{key}a", app, requester, State.APPROVED)
        PermissionChangeEvent.objects.create(
            application=app, customer_tenant=app.customer_tenant, lines=[f"zqchange-{key}"]
        )
    runs = {
        key: SyncRun.objects.create(tenant=tenant)
        for key, tenant in t.items()
        if tenant.side == Side.CUSTOMER
    }
    world = World(t, people, offers, apps, requests, runs)
    for key, app in apps.items():
        world.windows[key] = ApprovalWindow.objects.create(
            application=app,
            weekdays=[6],
            start_time=dt.time(2),
            end_time=dt.time(6),
            time_zone="UTC",
            created_by=pat,
            acts_as=pat,
        )
    return world


# --- The rules, written out independently of the portal's code. -------------------------------


class Oracle:
    def __init__(self, person: User | None) -> None:
        usable = (
            list(Membership.objects.filter(user=person, tenant__state=Tenant.State.ALLOWED))
            if person is not None and person.is_active
            else []
        )
        self.customer = {m.tenant_id for m in usable if m.role in CUSTOMER_ROLES}
        self.admin = {m.tenant_id for m in usable if m.role == Role.CUSTOMER_ADMIN}
        self.publisher = {m.tenant_id for m in usable if m.role in PUBLISHER_ROLES}
        self.own = (
            {m.tenant_id for m in Membership.objects.filter(user=person)} if person else set()
        )
        self.signed_in = person is not None and person.is_active
        self.has_access = bool(usable)

    def app(self, app: ManagedApplication) -> bool:
        return app.customer_tenant_id in self.customer or _published_by(app, self.publisher)

    def jit(self, jit: JitRequest) -> bool:
        return self.app(jit.application)

    def offer(self, offer: Offer) -> bool:
        public = offer.kind == Offer.Kind.MARKETPLACE and offer.publisher_tenant_id is not None
        return (
            offer.publisher_tenant_id in self.publisher
            or (bool(self.customer) and public)
            or offer.applications.filter(customer_tenant__in=self.customer).exists()
        )

    def customer_of_mine(self, tenant: Tenant) -> bool:
        return tenant.applications.filter(offer__publisher_tenant__in=self.publisher).exists()

    def tenant(self, tenant: Tenant) -> bool:
        return tenant.pk in self.customer or self.customer_of_mine(tenant)

    def run(self, run: SyncRun) -> bool:
        return self.tenant(run.tenant)

    def decides(self, jit: JitRequest) -> bool:
        return jit.application.customer_tenant_id in self.admin

    def withdraws(self, jit: JitRequest) -> bool:
        return _published_by(jit.application, self.publisher)

    def edits_policy(self, app: ManagedApplication) -> bool:
        return app.customer_tenant_id in self.admin

    def visible_markers(self, world: World) -> set[str]:
        seen = {f"zqtenant-{k}" for k, t in world.tenants.items() if t.pk in self.own}
        for key, app in world.apps.items():
            if self.app(app):
                seen |= {f"zqapp-{key}", f"zqchange-{key}", f"zqtenant-{_key(world, app)}"}
                seen |= {f"zqoffer-{_offer_key(world, _offer_of(app))}"}
                seen |= {f"zqwhy-{key}p", f"zqwhy-{key}a", f"zqaudit-{key}p", f"zqaudit-{key}a"}
                if _offer_of(app).publisher_tenant_id:
                    seen.add("zqtenant-contoso")
        for key, offer in world.offers.items():
            if self.offer(offer):
                seen.add(f"zqoffer-{key}")
                if offer.publisher_tenant_id:
                    seen.add("zqtenant-contoso")
        return seen


def _offer_of(app: ManagedApplication) -> Offer:
    """The offer of an application of the world (each has one)."""
    assert app.offer is not None, app.name
    return app.offer


def _published_by(app: ManagedApplication, tenants: set[int]) -> bool:
    publisher = _offer_of(app).publisher_tenant_id
    return publisher is not None and publisher in tenants


def _key(world: World, app: ManagedApplication) -> str:
    return next(k for k, t in world.tenants.items() if t.pk == app.customer_tenant_id)


def _offer_key(world: World, offer: Offer) -> str:
    return next(k for k, o in world.offers.items() if o.pk == offer.pk)


def all_markers(world: World) -> set[str]:
    markers = {f"zqtenant-{k}" for k in world.tenants} | {f"zqoffer-{k}" for k in world.offers}
    for key in world.apps:
        markers |= {f"zqapp-{key}", f"zqchange-{key}"}
    for key in world.requests:
        markers |= {f"zqwhy-{key}", f"zqaudit-{key}"}
    return markers


# --- The routes: what each path parameter takes, and who may see or change its object. -------


@dataclasses.dataclass
class Route:
    objects: Callable[[World], Iterable[tuple[str, Any, dict[str, Any]]]]
    sees: Callable[[Oracle, Any], bool]
    get: bool = True  # answers GET
    post: Callable[[Oracle, Any], bool] | None = None  # who may change by POST; None: no POST
    body: dict[str, Any] = dataclasses.field(default_factory=dict)
    body_for: Callable[[Any], dict[str, Any]] | None = None  # a body naming the object
    marker: Callable[[World, Any], str] | None = None  # what an allowed page must show
    fragment: str = ""  # the HX-Target of its htmx fragment, when it has one
    status: int = 200  # what an allowed GET answers


def _apps(world: World) -> Iterable[tuple[str, Any, dict[str, Any]]]:
    return ((f"app {k}", a, {"pk": a.pk}) for k, a in world.apps.items())


def _apps_as(name: str) -> Callable[[World], Iterable[tuple[str, Any, dict[str, Any]]]]:
    return lambda world: ((f"app {k}", a, {name: a.pk}) for k, a in world.apps.items())


def _requests(world: World) -> Iterable[tuple[str, Any, dict[str, Any]]]:
    return ((f"request {k}", j, {"pk": j.pk}) for k, j in world.requests.items())


def _customer_tenants(world: World) -> Iterable[tuple[str, Any, dict[str, Any]]]:
    return ((f"tenant {k}", t, {"pk": t.pk}) for k, t in world.tenants.items())


def _offers(world: World) -> Iterable[tuple[str, Any, dict[str, Any]]]:
    return ((f"offer {k}", o, {"pk": o.pk}) for k, o in world.offers.items())


def _none(world: World) -> Iterable[tuple[str, Any, dict[str, Any]]]:
    return [("list", None, {})]


def _app_marker(world: World, app: ManagedApplication) -> str:
    return app.name


def _jit_marker(world: World, jit: JitRequest) -> str:
    return jit.justification


def _everyone(oracle: Oracle, _: Any) -> bool:
    return oracle.has_access


def _nobody(oracle: Oracle, _: Any) -> bool:
    return False


def _pending_only(rule: Callable[[Oracle, JitRequest], bool]) -> Callable[[Oracle, Any], bool]:
    return lambda oracle, jit: rule(oracle, jit) and jit.state == State.PENDING


def _granted_only(rule: Callable[[Oracle, JitRequest], bool]) -> Callable[[Oracle, Any], bool]:
    return lambda oracle, jit: rule(oracle, jit) and jit.state == State.APPROVED


def _open(rule: Callable[[Oracle, JitRequest], bool]) -> Callable[[Oracle, Any], bool]:
    return lambda oracle, jit: rule(oracle, jit) and jit.state in (State.PENDING, State.APPROVED)


def _publisher_of(oracle: Oracle, app: ManagedApplication) -> bool:
    return _published_by(app, oracle.publisher)


ROUTES: dict[str, Route] = {
    "home": Route(_none, lambda o, _: True, post=_nobody),  # the landing page is public
    "accounts:profile": Route(_none, lambda o, _: o.signed_in, post=_nobody),
    "accounts:no_access": Route(_none, lambda o, _: True, post=_nobody, status=403),
    "deployments:my_apps": Route(
        _none, lambda o, _: bool(o.customer), post=_nobody, fragment="app_list"
    ),
    "deployments:app_detail": Route(_apps, Oracle.app, post=_nobody, marker=_app_marker),
    "deployments:customers": Route(
        _none, lambda o, _: bool(o.publisher), post=_nobody, fragment="customer_list"
    ),
    "deployments:customer_detail": Route(
        _customer_tenants,
        Oracle.customer_of_mine,
        post=_nobody,
        marker=lambda w, t: t.display_name,
        fragment="app_list",
    ),
    "deployments:fleet": Route(_none, lambda o, _: bool(o.publisher), post=_nobody),
    "deployments:catalog": Route(_none, _everyone, post=_nobody),
    "deployments:offer_detail": Route(
        _offers, Oracle.offer, post=_nobody, marker=lambda w, o: o.display_name
    ),
    "deployments:refresh": Route(
        lambda w: ((f"tenant {k}", t, {"tenant_pk": t.pk}) for k, t in w.tenants.items()),
        Oracle.tenant,
        get=False,
        post=Oracle.tenant,
    ),
    "deployments:sync_status": Route(
        lambda w: ((f"run {k}", r, {"pk": r.pk}) for k, r in w.runs.items()),
        Oracle.run,
        post=_nobody,
        marker=lambda w, r: r.tenant.display_name,
    ),
    "permissions:overview": Route(_none, _everyone, post=_nobody),
    "permissions:app": Route(_apps, Oracle.app, post=_nobody, marker=_app_marker),
    "permissions:offer": Route(
        _offers, Oracle.offer, post=_nobody, marker=lambda w, o: o.display_name
    ),
    "permissions:changes": Route(_none, _everyone, post=_nobody),
    "jit:requests": Route(_none, _everyone, post=_nobody),
    "jit:request_detail": Route(_requests, Oracle.jit, post=_nobody, marker=_jit_marker),
    "jit:request_status": Route(_requests, Oracle.jit, post=_nobody),
    "jit:decide": Route(
        _requests,
        Oracle.jit,
        get=False,
        post=_pending_only(Oracle.decides),
        body={"decision": "approve", "justification": "looks fine"},
    ),
    "jit:decide_batch": Route(
        lambda w: ((f"request {k}", j, {}) for k, j in w.requests.items()),
        Oracle.jit,
        get=False,
        post=_pending_only(Oracle.decides),
        body_for=lambda jit: {
            "requests": [str(jit.pk)],
            "decision": "approve",
            "justification": "looks fine",
        },
    ),
    "jit:batch_done": Route(_none, _everyone, post=_nobody),
    "jit:inbox_warnings": Route(_none, _everyone, post=_nobody),
    "jit:cancel": Route(_requests, Oracle.jit, get=False, post=_open(Oracle.withdraws)),
    "jit:revoke": Route(
        _requests,
        Oracle.jit,
        get=False,
        post=_granted_only(Oracle.decides),
        body={"reason": "done"},
    ),
    "jit:request_new": Route(
        _apps_as("app_pk"),
        _publisher_of,
        post=_publisher_of,
        body={
            "role": CONTRIBUTOR,
            "start_now": "1",
            "hours": "1",
            "justification": "Disk alert on the primary cluster",
        },
        marker=_app_marker,
    ),
    "jit:policy": Route(
        _apps_as("app_pk"),
        lambda o, app: app.customer_tenant_id in o.customer,
        post=Oracle.edits_policy,
        body={"approval_mode": "AutoApprove", "maximum_hours": "4", "reason": "simpler"},
        marker=_app_marker,
    ),
    "jit:windows": Route(
        _apps_as("app_pk"),
        lambda o, app: app.customer_tenant_id in o.customer,
        post=Oracle.edits_policy,
        body={"weekdays": "5", "start_time": "02:00", "end_time": "03:00", "time_zone": "UTC"},
        marker=_app_marker,
    ),
    "jit:window": Route(
        lambda w: (
            (f"window {k}", win, {"app_pk": win.application_id, "pk": win.pk})
            for k, win in w.windows.items()
        ),
        lambda o, win: win.application.customer_tenant_id in o.customer,
        post=lambda o, win: Oracle.edits_policy(o, win.application),
        body={"action": "delete"},
        marker=lambda w, win: win.application.name,
    ),
    "jit:audit": Route(_none, _everyone, post=_nobody),
    "jit:audit_csv": Route(_none, _everyone, post=_nobody),
    "jit:report": Route(_none, _everyone, post=_nobody),
    "jit:report_csv": Route(_none, _everyone, post=_nobody),
    "jit:report_pdf": Route(_none, _everyone, post=_nobody),
}

# The list filters, asked for other tenants' objects as well as the person's own. Each searches
# for part of a marker: the search box shows what was typed, a leaked row shows the whole marker.
LIST_QUERIES = [
    {},
    {"q": "app-tsl"},
    {"q": "tenant-northwind"},
    {"customer": "tenant-tailspin"},
    {"tenant": "tenant-adatum"},
    {"application": "app-nwcat"},
    {"requester": "Someone elsewhere"},
    {"page": "2"},
]


# --- Asking. ----------------------------------------------------------------------------------


def database_state() -> str:
    """Every row a change could write, in one string: equal before and after means untouched."""
    models = (
        Tenant, Membership, ManagedApplication, Offer, JitRequest, AuditEvent, SyncRun,
        PermissionChangeEvent, Operation, ApprovalWindow, ApprovalWindowOccurrence,
    )  # fmt: skip
    return repr([list(model.objects.order_by("pk").values_list()) for model in models])


def _refused(response: Any) -> bool:
    """A refusal: no page of data. Redirects go to the sign-in or the no-access page only."""
    if response.status_code in (400, 403, 404, 405):
        return True
    if response.status_code == 302:
        location: str = response["Location"]
        return location.startswith((reverse("account_login"), reverse("accounts:no_access")))
    return False


def _text(response: Any) -> str:
    if response.get("Content-Type") == "application/pdf":
        reader = PdfReader(io.BytesIO(response.content))
        return "\n".join(page.extract_text() for page in reader.pages)
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    content: bytes = response.content
    return content.decode()


@dataclasses.dataclass
class Tally:
    cells: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)

    def fail(self, where: str, why: str) -> None:
        self.failures.append(f"{where}: {why}")


def ask(client: Any, world: World, route_name: str, route: Route, tally: Tally) -> None:
    every_marker = all_markers(world)
    state = database_state()  # no refused POST may change it
    for who, person in world.people.items():
        client.logout()
        if person is not None:
            client.force_login(person)
        oracle = Oracle(person)
        forbidden = every_marker - oracle.visible_markers(world)
        for label, obj, kwargs in route.objects(world):
            url = reverse(route_name, kwargs=kwargs)
            sees = route.sees(oracle, obj)
            queries = LIST_QUERIES if obj is None else [{}]
            headers = [{}, {"HTTP_HX_REQUEST": "true"}]
            if route.fragment:
                headers.append({"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": route.fragment})
            for query in queries:
                for header in headers:
                    where = f"{route_name} GET {label} {query or ''} {header or ''} as {who}"
                    response = client.get(url, query, **header)
                    tally.cells += 1
                    check_read(response, route, world, obj, sees, forbidden, where, tally)
            if route.post is None:
                continue
            allowed = sees and route.post(oracle, obj)
            if allowed:
                continue  # an allowed change is the views' own tests' business
            for header in headers[:2]:
                where = f"{route_name} POST {label} {header or ''} as {who}"
                body = route.body_for(obj) if route.body_for else route.body
                response = client.post(url, body, **header)
                tally.cells += 1
                after = database_state()
                if response.status_code >= 500:
                    tally.fail(where, f"answered {response.status_code}")
                elif after != state:
                    tally.fail(where, f"wrote a change ({response.status_code})")
                    state = after
                elif not _refused(response) and response.status_code != 200:
                    tally.fail(where, f"neither refused nor shown: {response.status_code}")
                leaked = [m for m in forbidden if m in _text(response)]
                if leaked:
                    tally.fail(where, f"shows {sorted(leaked)}")


def check_read(
    response: Any,
    route: Route,
    world: World,
    obj: Any,
    sees: bool,
    forbidden: set[str],
    where: str,
    tally: Tally,
) -> None:
    if response.status_code >= 500:
        tally.fail(where, f"answered {response.status_code}")
        return
    text = _text(response)
    leaked = [m for m in forbidden if m in text]
    if leaked:
        tally.fail(where, f"shows {sorted(leaked)}")
    if not route.get:
        if response.status_code != 405 and not _refused(response):
            tally.fail(where, f"a POST-only URL answered GET with {response.status_code}")
        return
    if not sees:
        if not _refused(response):
            tally.fail(where, f"not refused: {response.status_code}")
        return
    if response.status_code != route.status:
        tally.fail(where, f"refused someone allowed: {response.status_code}")
    elif route.marker and route.marker(world, obj) not in text:
        tally.fail(where, f"the page does not show {route.marker(world, obj)}")


def _routes(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterable[str]:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _routes(entry, route, inner)
        elif isinstance(entry, URLPattern) and not route.startswith(EXTERNAL_PREFIXES):
            yield f"{namespace}{entry.name}"


def test_the_matrix_covers_every_url_pattern() -> None:
    names = set(_routes(get_resolver()))
    assert names - set(ROUTES) - set(OUTSIDE_THE_MATRIX) == set()
    assert set(ROUTES) - names == set(), "the matrix names a URL that no longer exists"


@pytest.mark.django_db
@pytest.mark.parametrize("route_name", sorted(ROUTES))
def test_nobody_sees_or_changes_what_is_not_theirs(client: Client, route_name: str) -> None:
    world = build_world()
    tally = Tally()
    ask(client, world, route_name, ROUTES[route_name], tally)
    print(f"\n{route_name}: {tally.cells} cells, {len(tally.failures)} failures")
    assert not tally.failures, "\n".join(tally.failures[:40])
