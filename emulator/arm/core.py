"""ARM plumbing shared by the resource-provider modules."""

import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from werkzeug.wrappers import Request, Response

from emulator import authz
from emulator.authz import Principal
from emulator.http import ArmError, iso, json_response, not_found, parse_json_body
from emulator.ids import new_id
from emulator.records import Operation
from emulator.state import State

API_VERSIONS: dict[str, set[str]] = {
    "solutions": {
        "2023-12-01-preview",
        "2021-07-01",
        "2021-02-01-preview",
        "2020-08-21-preview",
        "2019-07-01",
        "2018-09-01-preview",
        "2018-06-01",
        "2018-03-01",
        "2018-02-01",
        "2017-12-01",
        "2017-09-01",
    },
    "rbac": {
        "2022-04-01",
        "2022-01-01-preview",
        "2020-10-01-preview",
        "2020-08-01-preview",
        "2020-04-01-preview",
        "2018-09-01-preview",
        "2018-07-01",
        "2018-01-01-preview",
        "2017-05-01",
        "2015-07-01",
        "2015-06-01",
    },
    "approvals": {"2021-01-01-preview"},
    "pim": {
        "2020-10-01",
        "2020-10-01-preview",
        "2022-04-01-preview",
        "2024-02-01",
        "2024-09-01-preview",
    },
    "resources": {
        "2024-03-01",
        "2023-07-01",
        "2022-09-01",
        "2021-04-01",
        "2021-01-01",
        "2020-10-01",
        "2020-06-01",
        "2019-10-01",
        "2019-08-01",
        "2019-07-01",
        "2019-05-10",
        "2018-05-01",
        "2016-09-01",
    },
    "subscriptions": {"2022-12-01", "2021-01-01", "2020-01-01", "2019-11-01", "2016-06-01"},
    "insights": {"2015-04-01"},
    "any": set(),
}

Handler = Callable[["ArmContext"], Response]
T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    pattern: re.Pattern[str]
    handler: Handler
    family: str
    write: bool = False


def route(
    methods: str, pattern: str, handler: Handler, family: str, *, regex_tail: str = ""
) -> Route:
    """A route for `pattern`: `{name}` matches one path segment, `{scope}` any ARM scope, and
    the rest literally (the dot in `Microsoft.Solutions` is a dot); `regex_tail` is a regular
    expression for what follows."""
    verbs = tuple(methods.split())
    parts = []
    for part in re.split(r"(\{\w+\})", pattern):
        if part == "{scope}":
            parts.append("(?P<scope>.*?)")
        elif part.startswith("{") and part.endswith("}"):
            parts.append(f"(?P<{part[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(part))
    regex = re.compile("^" + "".join(parts) + regex_tail + "$", re.IGNORECASE)
    return Route(verbs, regex, handler, family, write=not set(verbs) <= {"GET", "HEAD"})


@dataclass
class ArmContext:
    request: Request
    state: State
    base: str
    path: str
    params: dict[str, str]
    principal: Principal
    query: dict[str, str] = field(default_factory=dict)
    api_version: str = ""
    _body: dict[str, Any] | None = None

    @property
    def method(self) -> str:
        return self.request.method

    def body(self) -> dict[str, Any]:
        if self._body is None:
            self._body = parse_json_body(self.request.get_data())
        return self._body

    def now_text(self) -> str:
        return iso(self.state.now()) or ""

    def require(self, action: str, scope: str) -> None:
        """403 unless the caller may perform `action` at `scope` (deny assignments first)."""
        deny = authz.blocking_deny(self.state, self.principal, action, scope)
        if deny is not None:
            raise ArmError(
                403,
                "DenyAssignmentAuthorizationFailed",
                f"The client '{self.caller_name()}' with object id '{self.principal.oid}' has permission to perform "
                f"action '{action}' on scope '{scope}'; however, the access is denied because of the deny assignment "
                f"with name '{deny.display_name}' and Id '{deny.name}' at scope '{deny.scope}'.",
            )
        if not authz.is_allowed(self.state, self.principal, action, scope):
            raise forbidden(self, action, scope)

    def allowed(self, action: str, scope: str) -> bool:
        return authz.is_allowed(self.state, self.principal, action, scope)

    def caller_name(self) -> str:
        person = self.state.people.get(self.principal.oid)
        return person.upn if person else self.principal.app_id

    def page(self, items: list[dict[str, Any]]) -> Response:
        """One page of a list, with an absolute `nextLink` carrying an opaque `$skipToken`."""
        try:
            start = int(self.query.get("$skiptoken", "0"))
        except ValueError:
            start = 0
        size = self.state.page_size
        top = self.query.get("$top")
        if top and top.isdigit():
            size = min(size, int(top))
        chunk = items[start : start + size]
        body: dict[str, Any] = {"value": chunk}
        if start + size < len(items):
            query = {k: v for k, v in self.request.args.items() if k.lower() != "$skiptoken"}
            query["$skipToken"] = str(start + size)
            body["nextLink"] = f"{self.base}{self.path}?{urllib.parse.urlencode(query)}"
        return json_response(body)

    def start_operation(
        self, *, subscription_id: str, resource_id: str, location: str, effect: Any
    ) -> Operation:

        operation = Operation(
            id=new_id(),
            subscription_id=subscription_id,
            location=location.replace(" ", "").lower() or "global",
            resource_id=resource_id,
            started=self.state.now(),
            due_monotonic=time.monotonic() + self.state.lro_delay_seconds,
            effect=effect,
        )
        self.state.operations[operation.id] = operation
        self.state.operations_in_progress[operation.id] = operation
        return operation

    def operation_headers(
        self, operation: Operation, *, location_header: bool = True
    ) -> dict[str, str]:
        prefix = (
            f"{self.base}/subscriptions/{operation.subscription_id}/providers/Microsoft.Solutions"
            f"/locations/{operation.location}"
        )
        query = f"?api-version={self.api_version}"
        headers = {
            "Azure-AsyncOperation": f"{prefix}/operationStatuses/{operation.id}{query}",
            "Retry-After": "1",
        }
        if location_header:
            headers["Location"] = f"{prefix}/operationResults/{operation.id}{query}"
        return headers


def forbidden(ctx: ArmContext, action: str, scope: str) -> ArmError:
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{ctx.caller_name()}' with object id '{ctx.principal.oid}' does not have authorization to "
        f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials.",
    )


def check_api_version(family: str, query: dict[str, str]) -> str:
    version = query.get("api-version")
    if not version:
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    allowed = API_VERSIONS[family]
    if allowed and version not in allowed:
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported versions are '{','.join(sorted(allowed, reverse=True))}'.",
        )
    return version


def require_subscription(state: State, subscription_id: str) -> str:
    subscription = state.subscriptions.get(subscription_id.lower())
    if subscription is None:
        raise ArmError(
            404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found."
        )
    return subscription.id


def require_resource_group(state: State, subscription_id: str, name: str) -> str:
    canonical = require_subscription(state, subscription_id)
    rg = state.resource_groups.get(f"/subscriptions/{canonical}/resourcegroups/{name}".lower())
    if rg is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return rg.name


def parse_filter(text: str) -> dict[str, str]:
    """`principalId eq 'x' and atScope()` -> {"principalid": "x", "atscope()": ""}."""
    found: dict[str, str] = {}
    for name, value in re.findall(r"(\w+)\s+(?:eq|ge|le|gt|lt)\s+'([^']*)'", text):
        found.setdefault(name.lower(), value)
    for name, value in re.findall(r"(\w+)\s+ge\s+'([^']*)'", text):
        found[f"{name.lower()}>="] = value
    for name, value in re.findall(r"(\w+)\s+le\s+'([^']*)'", text):
        found[f"{name.lower()}<="] = value
    for function, argument in re.findall(r"(\w+)\(([^)]*)\)", text):
        found[f"{function.lower()}()"] = argument.strip("'")
    return found


def find_solutions_resource(ctx: ArmContext, kind: str, store: dict[str, T]) -> T:
    """The Microsoft.Solutions resource named by the route, or ARM's 404."""
    p = ctx.params
    require_resource_group(ctx.state, p["sub"], p["rg"])
    key = f"/subscriptions/{p['sub']}/resourceGroups/{p['rg']}/providers/Microsoft.Solutions/{kind}/{p['name']}"
    found = store.get(key.lower())
    if found is None:
        raise not_found(f"Microsoft.Solutions/{kind}", p["name"], p["rg"])
    return found


def canonical_scope(ctx: ArmContext) -> str:
    """The canonical scope of a scoped route ("" is the tenant root)."""
    scope = "/" + ctx.params.get("scope", "").strip("/")
    scope = "" if scope == "/" else scope
    parts = scope.strip("/").split("/")
    if parts and parts[0].lower() == "subscriptions" and len(parts) >= 2:
        canonical = require_subscription(ctx.state, parts[1])
        parts[0], parts[1] = "subscriptions", canonical
        if len(parts) >= 4 and parts[2].lower() == "resourcegroups":
            rg = ctx.state.resource_groups.get(
                f"/subscriptions/{canonical}/resourcegroups/{parts[3]}".lower()
            )
            if rg is None:
                raise ArmError(
                    404, "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found."
                )
            parts[2], parts[3] = "resourceGroups", rg.name
        scope = "/" + "/".join(parts)
    return scope
